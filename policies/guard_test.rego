package swiftdeploy.guard_test

import rego.v1

import data.swiftdeploy.guard

too_many_errors := {"id": "error_rate_too_high", "message": "error rate 50% is above the maximum 1%", "observed": 0.5, "threshold": 0.01}

ok := {"allowed": true, "enforcement": "enforce", "violations": []}

deny := {"allowed": false, "enforcement": "enforce", "violations": [too_many_errors]}

shadow_deny := {"allowed": false, "enforcement": "shadow", "violations": [too_many_errors]}

down := {"unavailable": "OPA at http://127.0.0.1:8181: connection refused", "enforcement": "enforce"}

shadow_down := {"unavailable": "no metrics window yet", "enforcement": "shadow"}

too_short := {"id": "window_too_short", "message": "window covered 2 s, shorter than the required 5 s", "observed": 2, "threshold": 5}

too_few := {"id": "insufficient_traffic", "message": "3 completed requests in the window, fewer than the minimum 5", "observed": 3, "threshold": 5}

healthy := {"verdicts": {"infrastructure": ok, "canary": ok}}

# The canary policy denies a window it cannot judge; that is not an unhealthy stack.
filling := {"verdicts": {"infrastructure": ok, "canary": {"allowed": false, "enforcement": "enforce", "violations": [too_short, too_few]}}}

# A breach seen in a window still filling is a breach.
failing_early := {"verdicts": {"infrastructure": ok, "canary": {"allowed": false, "enforcement": "enforce", "violations": [too_short, too_many_errors]}}}

failing := {"verdicts": {"infrastructure": ok, "canary": deny}}

unjudged := {"verdicts": {"infrastructure": ok, "canary": down}}

scrape_failed := {"error": "connect ECONNREFUSED 127.0.0.1:8080", "verdicts": {"infrastructure": ok, "canary": down}}

decide(ticks, sustain, recover) := d if {
	d := guard.decision with input as {"ticks": ticks, "sustain_ticks": sustain, "recover_ticks": recover}
}

test_sustained_deny_is_detected if {
	d := decide([healthy, failing, failing, failing], 3, 2)
	d.detected == true
	d.recovered == false
	d.domain == "guard"
	d.judged_ticks == 4
	d.violations == [object.union({"domain": "canary"}, too_many_errors)]
	d.reason == "violation sustained for 3 judged ticks: error rate 50% is above the maximum 1%"
}

test_a_deny_not_sustained_long_enough_is_not_detected if {
	d := decide([healthy, healthy, failing, failing], 3, 2)
	d.detected == false
	d.recovered == false
	d.reason == "no sustained violation"
}

test_too_few_judged_ticks_detect_nothing if {
	d := decide([failing, failing], 3, 2)
	d.detected == false
}

test_exactly_sustain_ticks_detect if {
	d := decide([failing, failing, failing], 3, 2)
	d.detected == true
}

test_unjudged_ticks_neither_extend_nor_break_a_streak if {
	decide([failing, unjudged, failing, unjudged, failing], 3, 2).detected == true
	decide([failing, unjudged, unjudged, unjudged, failing], 3, 2).detected == false
	decide([unjudged, unjudged, unjudged], 1, 1).judged_ticks == 0
}

test_a_failed_scrape_counts_as_failing if {
	d := decide([scrape_failed, scrape_failed], 2, 2)
	d.detected == true
	[v] := d.violations
	v.id == "stack_unobservable"
	v.domain == "status"
	v.observed == "connect ECONNREFUSED 127.0.0.1:8080"
}

test_a_shadow_domain_deny_is_ignored if {
	t := {"verdicts": {"infrastructure": ok, "canary": shadow_deny}}
	d := decide([t, t, t], 3, 2)
	d.detected == false
	d.recovered == true
	d.violations == []
}

test_a_shadow_domain_that_cannot_be_asked_does_not_stop_judging if {
	t := {"verdicts": {"infrastructure": ok, "canary": shadow_down}}
	decide([t, t], 1, 2).recovered == true
}

test_recovered_after_recover_ticks_healthy_ticks if {
	d := decide([failing, failing, failing, healthy, healthy], 3, 2)
	d.recovered == true
	d.detected == false
	d.violations == []
	d.reason == "healthy for 2 judged ticks"
}

test_one_healthy_tick_is_not_recovery if {
	d := decide([failing, failing, failing, healthy], 3, 2)
	d.recovered == false
	d.detected == false
}

test_too_few_judged_ticks_do_not_recover if {
	decide([healthy], 3, 2).recovered == false
}

test_a_zero_or_missing_count_decides_nothing if {
	d := decide([failing, failing], 0, 0)
	d.detected == false
	d.recovered == false
	e := guard.decision with input as {"ticks": [healthy]}
	e.recovered == false
	e.detected == false
}

test_no_ticks_decide_nothing if {
	d := guard.decision with input as {"sustain_ticks": 1, "recover_ticks": 1}
	d.detected == false
	d.recovered == false
	d.judged_ticks == 0
	d.violations == []
}

test_only_denying_domains_give_violations if {
	noisy_ok := {"allowed": true, "enforcement": "enforce", "violations": [{"id": "never", "message": "m", "observed": 1, "threshold": 1}]}
	t := {"verdicts": {"infrastructure": noisy_ok, "canary": deny}}
	d := decide([t], 1, 1)
	d.violations == [object.union({"domain": "canary"}, too_many_errors)]
}

test_a_deny_only_for_want_of_evidence_is_neither_failing_nor_healthy if {
	d := decide([filling, filling, filling, filling], 2, 2)
	d.detected == false
	d.recovered == false
	d.judged_ticks == 0
	decide([failing, filling, failing], 2, 2).detected == true
	decide([failing, failing, healthy, filling, healthy], 2, 2).recovered == true
}

test_a_breach_in_a_filling_window_is_failing_and_reported_without_the_inconclusive_ids if {
	d := decide([failing_early, failing_early], 2, 2)
	d.detected == true
	d.violations == [object.union({"domain": "canary"}, too_many_errors)]
}
