package swiftdeploy.canary_test

import rego.v1

import data.swiftdeploy.canary

thresholds := {"max_error_rate": 0.01, "max_p99_latency_seconds": 0.5, "window_seconds": 30, "min_requests": 100}

healthy := {
	"window_seconds": 30.2,
	"requests": 1000,
	"errors": 2,
	"requests_per_second": 33.1,
	"error_rate": 0.002,
	"p99_latency_seconds": 0.25,
	"p99_capped": false,
}

decide(question, facts, limits) := d if {
	d := canary.decision with input as {"question": question, "facts": facts, "thresholds": limits}
}

ids(d) := {v.id | some v in d.violations}

test_healthy_canary_is_allowed_for_pre_promote if {
	d := decide("pre_promote", healthy, thresholds)
	d.allowed == true
	d.violations == []
	d.domain == "canary"
	d.reason == "canary checks passed for pre_promote"
	d.observed == healthy
}

test_healthy_canary_is_allowed_for_status if {
	d := decide("status", healthy, thresholds)
	d.allowed == true
}

test_error_rate_above_maximum_is_denied if {
	d := decide("pre_promote", object.union(healthy, {"error_rate": 0.05, "errors": 50}), thresholds)
	d.allowed == false
	d.violations == [{
		"id": "error_rate_too_high",
		"message": "error rate 5% is above the maximum 1%",
		"observed": 0.05,
		"threshold": 0.01,
	}]
}

test_error_rate_equal_to_maximum_passes if {
	d := decide("pre_promote", object.union(healthy, {"error_rate": 0.01}), thresholds)
	d.allowed == true
}

test_p99_above_maximum_is_denied if {
	d := decide("pre_promote", object.union(healthy, {"p99_latency_seconds": 0.75}), thresholds)
	d.allowed == false
	ids(d) == {"p99_latency_too_high"}
	d.violations[0].message == "p99 latency 750 ms is above the maximum 500 ms"
}

test_p99_equal_to_maximum_passes if {
	d := decide("pre_promote", object.union(healthy, {"p99_latency_seconds": 0.5}), thresholds)
	d.allowed == true
}

test_capped_p99_within_limit_is_unbounded_not_a_pass if {
	d := decide("pre_promote", object.union(healthy, {"p99_latency_seconds": 0.25, "p99_capped": true}), thresholds)
	d.allowed == false
	ids(d) == {"p99_latency_unbounded"}
}

test_capped_p99_above_limit_is_too_high if {
	d := decide("pre_promote", object.union(healthy, {"p99_latency_seconds": 1, "p99_capped": true}), thresholds)
	ids(d) == {"p99_latency_too_high"}
}

test_fewer_requests_than_minimum_is_insufficient_traffic if {
	d := decide("pre_promote", object.union(healthy, {"requests": 99}), thresholds)
	d.allowed == false
	d.violations == [{
		"id": "insufficient_traffic",
		"message": "99 completed requests in the window, fewer than the minimum 100",
		"observed": 99,
		"threshold": 100,
	}]
}

test_requests_equal_to_minimum_passes if {
	d := decide("pre_promote", object.union(healthy, {"requests": 100}), thresholds)
	d.allowed == true
}

test_empty_window_never_passes_vacuously if {
	empty := object.union(healthy, {
		"requests": 0, "errors": 0, "requests_per_second": 0,
		"error_rate": null, "p99_latency_seconds": null,
	})
	d := decide("pre_promote", empty, thresholds)
	d.allowed == false
	ids(d) == {"insufficient_traffic", "facts_unavailable"}
}

test_empty_window_is_denied_even_when_min_requests_is_zero if {
	empty := object.union(healthy, {"requests": 0, "error_rate": null, "p99_latency_seconds": null})
	d := decide("pre_promote", empty, object.union(thresholds, {"min_requests": 0}))
	d.allowed == false
	ids(d) == {"facts_unavailable"}
	count(d.violations) == 2
}

test_window_shorter_than_required_is_denied if {
	d := decide("pre_promote", object.union(healthy, {"window_seconds": 5}), thresholds)
	d.allowed == false
	d.violations == [{
		"id": "window_too_short",
		"message": "window covered 5 s, shorter than the required 30 s",
		"observed": 5,
		"threshold": 30,
	}]
}

test_window_equal_to_required_passes if {
	d := decide("pre_promote", object.union(healthy, {"window_seconds": 30}), thresholds)
	d.allowed == true
}

test_every_violation_is_reported_sorted_by_id if {
	bad := object.union(healthy, {"window_seconds": 10, "requests": 10, "error_rate": 0.5, "p99_latency_seconds": 2})
	d := decide("pre_promote", bad, thresholds)
	[v.id | some v in d.violations] == [
		"error_rate_too_high", "insufficient_traffic",
		"p99_latency_too_high", "window_too_short",
	]
}

test_absent_facts_are_facts_unavailable if {
	d := decide("pre_promote", {}, thresholds)
	d.allowed == false
	ids(d) == {"facts_unavailable"}
	count(d.violations) == 5
}

test_missing_p99_capped_is_facts_unavailable if {
	d := decide("pre_promote", object.remove(healthy, ["p99_capped"]), thresholds)
	d.violations == [{
		"id": "facts_unavailable",
		"message": "p99_capped could not be measured",
		"observed": null,
		"threshold": null,
	}]
}

test_missing_threshold_is_a_violation_not_a_pass if {
	d := decide("pre_promote", healthy, object.remove(thresholds, ["max_error_rate"]))
	d.allowed == false
	d.violations == [{
		"id": "threshold_missing",
		"message": "threshold max_error_rate is missing or not a number",
		"observed": null,
		"threshold": null,
	}]
}

test_absent_thresholds_deny_with_one_violation_each if {
	d := canary.decision with input as {"question": "pre_promote", "facts": healthy}
	ids(d) == {"threshold_missing"}
	count(d.violations) == 4
}

test_unsupported_question_is_denied if {
	d := decide("pre_deploy", healthy, thresholds)
	d.allowed == false
	d.violations == [{
		"id": "unsupported_question",
		"message": "unsupported question: policy/canary answers pre_promote, status and step",
		"observed": "pre_deploy",
		"threshold": null,
	}]
}

test_missing_input_still_yields_a_deny_document if {
	d := canary.decision with input as {}
	d.allowed == false
	d.question == null
	ids(d) == {"unsupported_question"}
}

test_messages_show_rounded_figures_with_units if {
	d := decide("status", object.union(healthy, {"error_rate": 0.3024523160762943, "p99_latency_seconds": 0.8124}), thresholds)
	d.reason == "error rate 30.2% is above the maximum 1%; p99 latency 812 ms is above the maximum 500 ms"
	d.violations[0].observed == 0.3024523160762943
	d.violations[0].threshold == 0.01
}

test_figures_that_would_read_as_equal_to_the_limit_are_shown_finer if {
	d := decide("pre_promote", object.union(healthy, {"error_rate": 0.0104, "window_seconds": 29.96}), thresholds)
	[v.message | some v in d.violations] == [
		"error rate 1.04% is above the maximum 1%",
		"window covered 29.96 s, shorter than the required 30 s",
	]
}

test_capped_p99_message_names_the_bucket_and_the_limit if {
	d := decide("pre_promote", object.union(healthy, {"p99_capped": true}), thresholds)
	d.reason == "p99 latency is above the highest histogram bucket (250 ms), so it cannot be shown to be within 500 ms"
}

test_window_questions_carry_no_outcome if {
	d := decide("pre_promote", healthy, thresholds)
	not "outcome" in object.keys(d)
}

# The step question: one window per track over the same step.

step_thresholds := {
	"max_error_rate": 0.01,
	"max_p99_latency_seconds": 0.5,
	"min_requests": 100,
	"max_error_rate_increase": 0.01,
	"max_p99_ratio": 1.5,
}

stable_track := {
	"window_seconds": 60.1,
	"requests": 1000,
	"errors": 2,
	"requests_per_second": 16.6,
	"error_rate": 0.002,
	"p50_latency_seconds": 0.05,
	"p95_latency_seconds": 0.2,
	"p99_latency_seconds": 0.4,
	"p99_capped": false,
	"counter_resets": 0,
}

canary_track := object.union(stable_track, {"requests": 200, "errors": 1, "error_rate": 0.005, "p99_latency_seconds": 0.3})

step_with(stable, canary, limits) := decide("step", {"step": 2, "weight": 25, "window_seconds": 60, "stable": stable, "canary": canary}, limits)

canary_step(changes) := step_with(stable_track, object.union(canary_track, changes), step_thresholds)

stable_step(changes) := step_with(object.union(stable_track, changes), canary_track, step_thresholds)

test_healthy_step_passes if {
	d := canary_step({})
	d.allowed == true
	d.outcome == "pass"
	d.violations == []
	d.question == "step"
	d.reason == "canary checks passed for step 2 at weight 25%"
	d.observed.canary == canary_track
	d.observed.stable == stable_track
}

test_step_canary_error_rate_equal_to_maximum_passes if {
	d := canary_step({"error_rate": 0.01})
	d.outcome == "pass"
}

test_step_canary_error_rate_above_maximum_fails if {
	d := canary_step({"error_rate": 0.0101})
	d.allowed == false
	d.outcome == "fail"
	d.violations == [{
		"id": "error_rate_too_high",
		"message": "canary error rate 1.01% is above the maximum 1%",
		"observed": 0.0101,
		"threshold": 0.01,
	}]
}

test_step_canary_p99_equal_to_maximum_passes if {
	d := canary_step({"p99_latency_seconds": 0.5})
	d.outcome == "pass"
}

test_step_canary_p99_above_maximum_fails if {
	d := canary_step({"p99_latency_seconds": 0.501})
	d.outcome == "fail"
	d.violations == [{
		"id": "p99_latency_too_high",
		"message": "canary p99 latency 501 ms is above the maximum 500 ms",
		"observed": 0.501,
		"threshold": 0.5,
	}]
}

loose := object.union(step_thresholds, {"max_error_rate": 0.5, "max_p99_latency_seconds": 5})

test_step_error_rate_equal_to_stable_plus_margin_passes if {
	d := step_with(object.union(stable_track, {"error_rate": 0.02}), object.union(canary_track, {"error_rate": 0.03}), loose)
	d.outcome == "pass"
}

test_step_error_rate_above_stable_plus_margin_fails if {
	d := step_with(object.union(stable_track, {"error_rate": 0.02}), object.union(canary_track, {"error_rate": 0.031}), loose)
	d.outcome == "fail"
	d.violations == [{
		"id": "error_rate_above_stable",
		"message": "canary error rate 3.1% is above stable's 2% + 1% = 3%",
		"observed": 0.031,
		"threshold": 0.03,
	}]
}

test_step_p99_equal_to_stable_times_ratio_passes if {
	d := step_with(stable_track, object.union(canary_track, {"p99_latency_seconds": 0.6}), loose)
	d.outcome == "pass"
}

test_step_p99_above_stable_times_ratio_fails if {
	d := step_with(stable_track, object.union(canary_track, {"p99_latency_seconds": 0.601}), loose)
	d.outcome == "fail"
	d.violations == [{
		"id": "p99_above_stable",
		"message": "canary p99 latency 601 ms is above 1.5 × stable's 400 ms = 600 ms",
		"observed": 0.601,
		"threshold": 0.6,
	}]
}

test_step_too_few_canary_requests_is_inconclusive if {
	d := canary_step({"requests": 99})
	d.allowed == false
	d.outcome == "inconclusive"
	d.violations == [{
		"id": "canary_too_few_requests",
		"message": "canary served 99 requests in the step, fewer than the minimum 100",
		"observed": 99,
		"threshold": 100,
	}]
}

test_step_canary_requests_equal_to_minimum_pass if {
	d := canary_step({"requests": 100})
	d.outcome == "pass"
}

test_step_too_few_stable_requests_is_inconclusive if {
	d := stable_step({"requests": 99})
	d.outcome == "inconclusive"
	ids(d) == {"stable_too_few_requests"}
	d.reason == "stable served 99 requests in the step, fewer than the minimum 100"
}

test_step_stable_requests_equal_to_minimum_pass if {
	d := stable_step({"requests": 100})
	d.outcome == "pass"
}

empty_track := {"requests": 0, "errors": 0, "requests_per_second": 0, "error_rate": null, "p99_latency_seconds": null}

test_step_empty_canary_window_is_inconclusive_never_a_pass if {
	d := canary_step(empty_track)
	d.outcome == "inconclusive"
	[v.id | some v in d.violations] == ["canary_too_few_requests", "facts_unavailable", "facts_unavailable"]
}

test_step_empty_window_is_inconclusive_even_when_min_requests_is_zero if {
	d := step_with(stable_track, object.union(canary_track, empty_track), object.union(step_thresholds, {"min_requests": 0}))
	d.outcome == "inconclusive"
	[v.message | some v in d.violations] == [
		"canary error_rate could not be measured",
		"canary p99_latency_seconds could not be measured",
	]
}

test_step_empty_stable_window_is_inconclusive if {
	d := stable_step(empty_track)
	d.outcome == "inconclusive"
	ids(d) == {"stable_too_few_requests", "facts_unavailable"}
}

test_step_all_errors_canary_fails_even_when_max_error_rate_is_one if {
	limits := object.union(step_thresholds, {"max_error_rate": 1, "max_error_rate_increase": 1})
	d := step_with(stable_track, object.union(canary_track, {"errors": 200, "error_rate": 1}), limits)
	d.outcome == "fail"
	d.violations == [{
		"id": "canary_all_errors",
		"message": "every one of the canary's 200 requests failed",
		"observed": 1,
		"threshold": null,
	}]
}

test_step_all_errors_stable_is_inconclusive_and_not_compared if {
	# A fast failing stable: compared, the canary's p99 would be far above 1.5 x stable's.
	d := stable_step({"errors": 1000, "error_rate": 1, "p99_latency_seconds": 0.01})
	d.outcome == "inconclusive"
	d.violations == [{
		"id": "stable_all_errors",
		"message": "every one of stable's 1000 requests failed: cannot compare against a failing stable",
		"observed": 1,
		"threshold": null,
	}]
}

test_step_null_canary_p99_is_inconclusive if {
	d := canary_step({"p99_latency_seconds": null})
	d.outcome == "inconclusive"
	d.violations == [{
		"id": "facts_unavailable",
		"message": "canary p99_latency_seconds could not be measured",
		"observed": null,
		"threshold": null,
	}]
}

test_step_null_stable_p99_is_inconclusive if {
	d := stable_step({"p99_latency_seconds": null})
	d.outcome == "inconclusive"
	d.reason == "stable p99_latency_seconds could not be measured"
}

test_step_fail_wins_over_inconclusive if {
	d := canary_step({"requests": 50, "errors": 25, "error_rate": 0.5})
	d.outcome == "fail"
	[v.id | some v in d.violations] == ["canary_too_few_requests", "error_rate_above_stable", "error_rate_too_high"]
	d.reason == "canary served 50 requests in the step, fewer than the minimum 100; canary error rate 50% is above stable's 0.2% + 1% = 1.2%; canary error rate 50% is above the maximum 1%"
}

test_step_capped_canary_p99_within_limits_is_inconclusive if {
	d := canary_step({"p99_latency_seconds": 0.25, "p99_capped": true})
	d.outcome == "inconclusive"
	[v.message | some v in d.violations] == [
		"canary p99 latency is above the highest histogram bucket (250 ms), so it cannot be shown to be within 1.5 × stable's 400 ms = 600 ms",
		"canary p99 latency is above the highest histogram bucket (250 ms), so it cannot be shown to be within 500 ms",
	]
	ids(d) == {"p99_comparison_unbounded", "p99_latency_unbounded"}
}

test_step_capped_canary_p99_equal_to_stable_times_ratio_is_inconclusive if {
	d := step_with(stable_track, object.union(canary_track, {"p99_latency_seconds": 0.6, "p99_capped": true}), loose)
	d.outcome == "inconclusive"
	ids(d) == {"p99_comparison_unbounded", "p99_latency_unbounded"}
}

test_step_capped_canary_p99_above_the_limits_fails if {
	d := canary_step({"p99_latency_seconds": 1, "p99_capped": true})
	d.outcome == "fail"
	ids(d) == {"p99_above_stable", "p99_latency_too_high"}
}

test_step_capped_stable_p99_below_the_canary_is_inconclusive if {
	d := step_with(object.union(stable_track, {"p99_capped": true}), object.union(canary_track, {"p99_latency_seconds": 0.601}), loose)
	d.outcome == "inconclusive"
	d.violations == [{
		"id": "p99_comparison_unbounded",
		"message": "stable p99 latency is above the highest histogram bucket (400 ms), so canary p99 latency 601 ms cannot be compared with 1.5 × it",
		"observed": 0.601,
		"threshold": 0.6,
	}]
}

test_step_capped_stable_p99_within_reach_of_the_canary_passes if {
	# stable's true p99 is above 400 ms, so 600 ms is within 1.5 x it.
	d := step_with(object.union(stable_track, {"p99_capped": true}), object.union(canary_track, {"p99_latency_seconds": 0.6}), loose)
	d.outcome == "pass"
}

test_step_missing_threshold_is_inconclusive if {
	d := step_with(stable_track, canary_track, object.remove(step_thresholds, ["max_p99_ratio"]))
	d.outcome == "inconclusive"
	d.reason == "threshold max_p99_ratio is missing or not a number"
}

test_step_absent_thresholds_one_violation_each if {
	d := canary.decision with input as {"question": "step", "facts": {"step": 1, "weight": 10, "window_seconds": 60, "stable": stable_track, "canary": canary_track}}
	d.outcome == "inconclusive"
	ids(d) == {"threshold_missing"}
	count(d.violations) == 5
}

test_step_absent_track_is_unavailable if {
	d := decide("step", {"step": 1, "weight": 10, "window_seconds": 60, "canary": canary_track}, step_thresholds)
	d.outcome == "inconclusive"
	[v.message | some v in d.violations] == [
		"stable error_rate could not be measured",
		"stable p99_capped could not be measured",
		"stable p99_latency_seconds could not be measured",
		"stable requests could not be measured",
	]
}

test_step_absent_step_fields_are_unavailable if {
	d := decide("step", {"stable": stable_track, "canary": canary_track}, step_thresholds)
	d.outcome == "inconclusive"
	[v.message | some v in d.violations] == [
		"step could not be measured",
		"weight could not be measured",
		"window_seconds could not be measured",
	]
}

test_step_reason_shows_a_fractional_weight if {
	d := decide("step", {"step": 1, "weight": 12.5, "window_seconds": 60, "stable": stable_track, "canary": canary_track}, step_thresholds)
	d.reason == "canary checks passed for step 1 at weight 12.5%"
}

test_step_messages_show_rounded_figures if {
	d := canary_step({"error_rate": 0.3024523160762943, "p99_latency_seconds": 0.8124})
	d.outcome == "fail"
	[v.message | some v in d.violations] == [
		"canary error rate 30.2% is above stable's 0.2% + 1% = 1.2%",
		"canary error rate 30.2% is above the maximum 1%",
		"canary p99 latency 812 ms is above 1.5 × stable's 400 ms = 600 ms",
		"canary p99 latency 812 ms is above the maximum 500 ms",
	]
}

# At weight 100 stable serves nothing: only the canary's own figures are judged.
test_step_at_100_ignores_an_empty_stable if {
	empty := {"requests": 0, "error_rate": null, "p99_latency_seconds": null, "p99_capped": false}
	d := decide("step", {"step": 4, "weight": 100, "window_seconds": 60, "stable": empty, "canary": canary_track}, step_thresholds)
	d.outcome == "pass"
	d.allowed == true
}

test_step_at_100_still_judges_the_canary if {
	empty := {"requests": 0, "error_rate": null, "p99_latency_seconds": null, "p99_capped": false}
	few := object.union(canary_track, {"requests": 1})
	d := decide("step", {"step": 4, "weight": 100, "window_seconds": 60, "stable": empty, "canary": few}, step_thresholds)
	d.outcome == "inconclusive"
	{v.id | some v in d.violations} == {"canary_too_few_requests"}
}

test_step_below_100_still_needs_stable_traffic if {
	empty := {"requests": 0, "error_rate": null, "p99_latency_seconds": null, "p99_capped": false}
	d := decide("step", {"step": 3, "weight": 99, "window_seconds": 60, "stable": empty, "canary": canary_track}, step_thresholds)
	d.outcome == "inconclusive"
	"stable_too_few_requests" in {v.id | some v in d.violations}
}
