# Canary gate: has the canary earned promotion (pre_promote), is it healthy now (status), and did it
# pass one step of a progressive rollout (step)?
#
# Input (src/policy/types.ts: CanaryFacts, CanaryThresholds, StepFacts, StepThresholds):
#   {"question": "pre_promote" | "status", "facts": {...}, "thresholds": {...}}
#   {"question": "step", "facts": {"step", "weight", "window_seconds", "stable": {...}, "canary": {...}},
#    "thresholds": {...}}
# facts describe windows of the app's own traffic, measured by src/metrics from two scrapes; for a step,
# one window per track (stable and canary) over the same step.
#
# No vacuous passes: an empty window has no error rate and no p99 (null facts -> facts_unavailable),
# fewer than min_requests completed requests is insufficient_traffic (per track for a step), and a
# window shorter than thresholds.window_seconds is window_too_short. A p99 that fell in the +Inf
# histogram bucket is only a lower bound, so it cannot prove the latency limit is met
# (p99_latency_unbounded).
#
# A step's decision also carries an outcome: "pass" (no violation), "fail" (a violation in fail_ids:
# the canary breached a limit, absolute or relative to stable, or every canary request failed) or
# "inconclusive" (anything else: too few requests on either track, unmeasured figures, a failing
# stable, a p99 that cannot be compared). Fail wins over inconclusive: a breach already seen on the
# canary's requests is not undone by more traffic, and aborting is the safe direction (stable is
# untouched), while extending the step keeps users on a canary that is failing them.
#
# Every limit comes from input.thresholds; equal to a limit passes. Violations are sorted (by id, then
# message) so the same input always yields the same document. Messages show rounded figures with units
# (policies/format.rego); `observed` and `threshold` keep the raw numbers.
package swiftdeploy.canary

import rego.v1

import data.swiftdeploy.format

window_questions := {"pre_promote", "status"}

supported_questions := window_questions | {"step"}

# At weight 100 the stable track serves nothing: the step is judged on the canary's own figures
# (absolute rules) alone; the earlier steps compared it with stable.
default compared_tracks := ["stable", "canary"]

compared_tracks := ["canary"] if {
	step_question
	facts.weight == 100
}

# The violations that make a step fail; any other violation leaves it inconclusive.
fail_ids := {
	"error_rate_too_high",
	"p99_latency_too_high",
	"canary_all_errors",
	"error_rate_above_stable",
	"p99_above_stable",
}

default question := null

question := input.question

default facts := {}

facts := input.facts if is_object(input.facts)

default thresholds := {}

thresholds := input.thresholds if is_object(input.thresholds)

answerable if question in supported_questions

window_question if question in window_questions

step_question if question == "step"

# What the absolute limits judge: the one window, or the canary track of a step.
default subject := {}

subject := facts if window_question

subject := facts.canary if {
	step_question
	is_object(facts.canary)
}

default subject_label := ""

subject_label := "canary " if step_question

default stable := {}

stable := facts.stable if {
	step_question
	"stable" in compared_tracks
	is_object(facts.stable)
}

required_thresholds contains name if {
	window_question
	some name in ["max_error_rate", "max_p99_latency_seconds", "window_seconds", "min_requests"]
}

required_thresholds contains name if {
	step_question
	some name in ["max_error_rate", "max_p99_latency_seconds", "min_requests", "max_error_rate_increase", "max_p99_ratio"]
}

# Facts that must be numbers (and booleans), each as a path into facts.
required_number_facts contains [name] if {
	window_question
	some name in ["window_seconds", "requests", "error_rate", "p99_latency_seconds"]
}

required_number_facts contains [name] if {
	step_question
	some name in ["step", "weight", "window_seconds"]
}

required_number_facts contains [track, name] if {
	step_question
	some track in compared_tracks
	some name in ["requests", "error_rate", "p99_latency_seconds"]
}

required_boolean_facts contains ["p99_capped"] if window_question

required_boolean_facts contains [track, "p99_capped"] if {
	step_question
	some track in compared_tracks
}

violations contains v if {
	not answerable
	v := {
		"id": "unsupported_question",
		"message": "unsupported question: policy/canary answers pre_promote, status and step",
		"observed": question,
		"threshold": null,
	}
}

violations contains v if {
	some name in required_thresholds
	not is_number(object.get(thresholds, name, null))
	v := {
		"id": "threshold_missing",
		"message": sprintf("threshold %s is missing or not a number", [name]),
		"observed": null,
		"threshold": object.get(thresholds, name, null),
	}
}

violations contains v if {
	some path in required_number_facts
	not is_number(object.get(facts, path, null))
	v := unavailable(path)
}

violations contains v if {
	some path in required_boolean_facts
	not is_boolean(object.get(facts, path, null))
	v := unavailable(path)
}

unavailable(path) := {
	"id": "facts_unavailable",
	"message": sprintf("%s could not be measured", [concat(" ", path)]),
	"observed": object.get(facts, path, null),
	"threshold": null,
}

violations contains v if {
	window_question
	observed := facts.window_seconds
	limit := thresholds.window_seconds
	is_number(observed)
	is_number(limit)
	observed < limit
	shown := format.duration_pair(observed, limit)
	v := {
		"id": "window_too_short",
		"message": sprintf("window covered %s, shorter than the required %s", shown),
		"observed": observed,
		"threshold": limit,
	}
}

violations contains v if {
	window_question
	observed := facts.requests
	limit := thresholds.min_requests
	is_number(observed)
	is_number(limit)
	observed < limit
	v := {
		"id": "insufficient_traffic",
		"message": sprintf("%s completed requests in the window, fewer than the minimum %s", [format.count_of(observed), format.count_of(limit)]),
		"observed": observed,
		"threshold": limit,
	}
}

violations contains v if {
	observed := subject.error_rate
	limit := thresholds.max_error_rate
	is_number(observed)
	is_number(limit)
	observed > limit
	shown := format.percent_pair(observed, limit)
	v := {
		"id": "error_rate_too_high",
		"message": sprintf("%serror rate %s is above the maximum %s", [subject_label, shown[0], shown[1]]),
		"observed": observed,
		"threshold": limit,
	}
}

violations contains v if {
	observed := subject.p99_latency_seconds
	limit := thresholds.max_p99_latency_seconds
	is_number(observed)
	is_number(limit)
	observed > limit
	shown := format.latency_pair(observed, limit)
	v := {
		"id": "p99_latency_too_high",
		"message": sprintf("%sp99 latency %s is above the maximum %s", [subject_label, shown[0], shown[1]]),
		"observed": observed,
		"threshold": limit,
	}
}

# When the rank fell in +Inf the true p99 is above the highest finite bucket bound; if that bound is
# itself within the limit, nothing shows the real p99 is.
violations contains v if {
	subject.p99_capped == true
	observed := subject.p99_latency_seconds
	limit := thresholds.max_p99_latency_seconds
	is_number(observed)
	is_number(limit)
	observed <= limit
	v := {
		"id": "p99_latency_unbounded",
		"message": sprintf("%sp99 latency is above the highest histogram bucket (%s), so it cannot be shown to be within %s", [subject_label, format.latency(observed), format.latency(limit)]),
		"observed": observed,
		"threshold": limit,
	}
}

# min_requests applies to each track of a step.
violations contains v if {
	step_question
	some track in compared_tracks
	observed := facts[track].requests
	limit := thresholds.min_requests
	is_number(observed)
	is_number(limit)
	observed < limit
	v := {
		"id": sprintf("%s_too_few_requests", [track]),
		"message": sprintf("%s served %s requests in the step, fewer than the minimum %s", [track, format.count_of(observed), format.count_of(limit)]),
		"observed": observed,
		"threshold": limit,
	}
}

# A canary that failed every request fails the step even when max_error_rate allows 100%.
violations contains v if {
	step_question
	subject.error_rate == 1
	v := {
		"id": "canary_all_errors",
		"message": sprintf("every one of the canary's %s requests failed", [format.count_of(subject.requests)]),
		"observed": subject.error_rate,
		"threshold": null,
	}
}

violations contains v if {
	stable.error_rate == 1
	v := {
		"id": "stable_all_errors",
		"message": sprintf("every one of stable's %s requests failed: cannot compare against a failing stable", [format.count_of(stable.requests)]),
		"observed": stable.error_rate,
		"threshold": null,
	}
}

# Relative rules compare with a stable that served at least one good request.
stable_comparable if stable.error_rate < 1

violations contains v if {
	stable_comparable
	observed := subject.error_rate
	margin := thresholds.max_error_rate_increase
	is_number(observed)
	is_number(margin)
	limit := stable.error_rate + margin
	observed > limit
	shown := format.percent_pair(observed, limit)
	v := {
		"id": "error_rate_above_stable",
		"message": sprintf("canary error rate %s is above stable's %s + %s = %s", [shown[0], format.percent(stable.error_rate), format.percent(margin), shown[1]]),
		"observed": observed,
		"threshold": limit,
	}
}

# A capped canary p99 is a lower bound, so above the limit it still proves the breach; a capped stable
# p99 is not a number to multiply.
violations contains v if {
	stable_comparable
	stable.p99_capped == false
	observed := subject.p99_latency_seconds
	ratio := thresholds.max_p99_ratio
	is_number(observed)
	is_number(stable.p99_latency_seconds)
	is_number(ratio)
	limit := stable.p99_latency_seconds * ratio
	observed > limit
	shown := format.latency_pair(observed, limit)
	v := {
		"id": "p99_above_stable",
		"message": sprintf("canary p99 latency %s is above %s × stable's %s = %s", [shown[0], format.figure(ratio), format.latency(stable.p99_latency_seconds), shown[1]]),
		"observed": observed,
		"threshold": limit,
	}
}

violations contains v if {
	stable_comparable
	subject.p99_capped == true
	observed := subject.p99_latency_seconds
	ratio := thresholds.max_p99_ratio
	is_number(observed)
	is_number(stable.p99_latency_seconds)
	is_number(ratio)
	limit := stable.p99_latency_seconds * ratio
	observed <= limit
	v := {
		"id": "p99_comparison_unbounded",
		"message": sprintf("canary p99 latency is above the highest histogram bucket (%s), so it cannot be shown to be within %s × stable's %s = %s", [format.latency(observed), format.figure(ratio), format.latency(stable.p99_latency_seconds), format.latency(limit)]),
		"observed": observed,
		"threshold": limit,
	}
}

violations contains v if {
	stable_comparable
	stable.p99_capped == true
	observed := subject.p99_latency_seconds
	ratio := thresholds.max_p99_ratio
	is_number(observed)
	is_number(stable.p99_latency_seconds)
	is_number(ratio)
	limit := stable.p99_latency_seconds * ratio
	observed > limit
	v := {
		"id": "p99_comparison_unbounded",
		"message": sprintf("stable p99 latency is above the highest histogram bucket (%s), so canary p99 latency %s cannot be compared with %s × it", [format.latency(stable.p99_latency_seconds), format.latency(observed), format.figure(ratio)]),
		"observed": observed,
		"threshold": limit,
	}
}

sorted_violations := sort(violations)

default allowed := false

allowed if count(violations) == 0

failing if {
	some v in violations
	v.id in fail_ids
}

default outcome := "inconclusive"

outcome := "fail" if failing

outcome := "pass" if count(violations) == 0

reason := sprintf("canary checks passed for step %s at weight %s%%", [format.count_of(facts.step), format.decimal(facts.weight, 10)]) if {
	allowed
	step_question
}

reason := sprintf("canary checks passed for %s", [question]) if {
	allowed
	not step_question
}

reason := concat("; ", [v.message | some v in sorted_violations]) if not allowed

default step_fields := {}

step_fields := {"outcome": outcome} if step_question

decision := object.union(
	{
		"domain": "canary",
		"question": question,
		"allowed": allowed,
		"reason": reason,
		"violations": sorted_violations,
		"observed": facts,
	},
	step_fields,
)
