# Canary gate: has the canary earned promotion (pre_promote), and is it healthy now (status)?
#
# Input (src/policy/types.ts: CanaryFacts, CanaryThresholds):
#   {"question": "pre_promote" | "status", "facts": {...}, "thresholds": {...}}
# facts describe one window of the app's own traffic, measured by src/metrics from two scrapes.
#
# No vacuous passes: an empty window has no error rate and no p99 (null facts -> facts_unavailable),
# fewer than min_requests completed requests is insufficient_traffic, and a window shorter than
# thresholds.window_seconds is window_too_short. A p99 that fell in the +Inf histogram bucket is only
# a lower bound, so it cannot prove the latency limit is met (p99_latency_unbounded).
#
# Every limit comes from input.thresholds; equal to a limit passes. Violations are sorted (by id, then
# message) so the same input always yields the same document.
package swiftdeploy.canary

import rego.v1

supported_questions := {"pre_promote", "status"}

required_thresholds := ["max_error_rate", "max_p99_latency_seconds", "window_seconds", "min_requests"]

required_number_facts := ["window_seconds", "requests", "error_rate", "p99_latency_seconds"]

default question := null

question := input.question

default facts := {}

facts := input.facts if is_object(input.facts)

default thresholds := {}

thresholds := input.thresholds if is_object(input.thresholds)

answerable if question in supported_questions

violations contains v if {
	not answerable
	v := {
		"id": "unsupported_question",
		"message": "unsupported question: policy/canary answers pre_promote and status",
		"observed": question,
		"threshold": null,
	}
}

violations contains v if {
	answerable
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
	answerable
	some fact in required_number_facts
	not is_number(object.get(facts, fact, null))
	v := {
		"id": "facts_unavailable",
		"message": sprintf("%s could not be measured", [fact]),
		"observed": object.get(facts, fact, null),
		"threshold": null,
	}
}

violations contains v if {
	answerable
	not is_boolean(object.get(facts, "p99_capped", null))
	v := {
		"id": "facts_unavailable",
		"message": "p99_capped could not be measured",
		"observed": object.get(facts, "p99_capped", null),
		"threshold": null,
	}
}

violations contains v if {
	answerable
	observed := facts.window_seconds
	limit := thresholds.window_seconds
	is_number(observed)
	is_number(limit)
	observed < limit
	v := {
		"id": "window_too_short",
		"message": sprintf("window covered %vs, shorter than the required %vs", [observed, limit]),
		"observed": observed,
		"threshold": limit,
	}
}

violations contains v if {
	answerable
	observed := facts.requests
	limit := thresholds.min_requests
	is_number(observed)
	is_number(limit)
	observed < limit
	v := {
		"id": "insufficient_traffic",
		"message": sprintf("%v completed requests in the window, fewer than the minimum %v", [observed, limit]),
		"observed": observed,
		"threshold": limit,
	}
}

violations contains v if {
	answerable
	observed := facts.error_rate
	limit := thresholds.max_error_rate
	is_number(observed)
	is_number(limit)
	observed > limit
	v := {
		"id": "error_rate_too_high",
		"message": sprintf("error rate %v is above the maximum %v", [observed, limit]),
		"observed": observed,
		"threshold": limit,
	}
}

violations contains v if {
	answerable
	observed := facts.p99_latency_seconds
	limit := thresholds.max_p99_latency_seconds
	is_number(observed)
	is_number(limit)
	observed > limit
	v := {
		"id": "p99_latency_too_high",
		"message": sprintf("p99 latency %vs is above the maximum %vs", [observed, limit]),
		"observed": observed,
		"threshold": limit,
	}
}

# When the rank fell in +Inf the true p99 is above the highest finite bucket bound; if that bound is
# itself within the limit, nothing shows the real p99 is.
violations contains v if {
	answerable
	facts.p99_capped == true
	observed := facts.p99_latency_seconds
	limit := thresholds.max_p99_latency_seconds
	is_number(observed)
	is_number(limit)
	observed <= limit
	v := {
		"id": "p99_latency_unbounded",
		"message": sprintf("p99 latency is above the highest histogram bucket (%vs), so it cannot be shown to be within %vs", [observed, limit]),
		"observed": observed,
		"threshold": limit,
	}
}

sorted_violations := sort(violations)

default allowed := false

allowed if count(violations) == 0

reason := sprintf("canary checks passed for %s", [question]) if allowed

reason := concat("; ", [v.message | some v in sorted_violations]) if not allowed

decision := {
	"domain": "canary",
	"question": question,
	"allowed": allowed,
	"reason": reason,
	"violations": sorted_violations,
	"observed": facts,
}
