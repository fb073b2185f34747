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
		"message": "error rate 0.05 is above the maximum 0.01",
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
	d.violations[0].message == "p99 latency 0.75s is above the maximum 0.5s"
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
		"message": "window covered 5s, shorter than the required 30s",
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
		"message": "unsupported question: policy/canary answers pre_promote and status",
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
