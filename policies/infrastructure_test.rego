package swiftdeploy.infrastructure_test

import rego.v1

import data.swiftdeploy.infrastructure

thresholds := {"min_disk_free_gb": 10, "max_cpu_load": 2, "min_memory_available_mb": 512}

healthy := {
	"disk_free_gb": 50.5,
	"disk_path": "/var/lib/docker",
	"cpu_load_1m": 1.2,
	"cpu_cores": 4,
	"cpu_load_per_core": 0.3,
	"memory_available_mb": 4096,
	"sources": {"disk_free_gb": "statfs:/var/lib/docker"},
}

decide(question, facts, limits) := d if {
	d := infrastructure.decision with input as {"question": question, "facts": facts, "thresholds": limits}
}

ids(d) := {v.id | some v in d.violations}

test_healthy_host_is_allowed_for_pre_deploy if {
	d := decide("pre_deploy", healthy, thresholds)
	d.allowed == true
	d.violations == []
	d.domain == "infrastructure"
	d.question == "pre_deploy"
	d.reason == "infrastructure checks passed for pre_deploy"
	d.observed == healthy
}

test_healthy_host_is_allowed_for_status if {
	d := decide("status", healthy, thresholds)
	d.allowed == true
}

test_disk_free_below_minimum_is_denied if {
	d := decide("pre_deploy", object.union(healthy, {"disk_free_gb": 9.5}), thresholds)
	d.allowed == false
	d.violations == [{
		"id": "disk_free_too_low",
		"message": "disk free 9.5 GB is below the minimum 10 GB",
		"observed": 9.5,
		"threshold": 10,
	}]
	d.reason == "disk free 9.5 GB is below the minimum 10 GB"
}

test_disk_free_equal_to_minimum_passes if {
	d := decide("pre_deploy", object.union(healthy, {"disk_free_gb": 10}), thresholds)
	d.allowed == true
}

test_cpu_load_per_core_above_maximum_is_denied if {
	d := decide("pre_deploy", object.union(healthy, {"cpu_load_per_core": 2.25}), thresholds)
	d.allowed == false
	ids(d) == {"cpu_load_too_high"}
	d.violations[0].observed == 2.25
	d.violations[0].threshold == 2
}

test_cpu_load_per_core_equal_to_maximum_passes if {
	d := decide("pre_deploy", object.union(healthy, {"cpu_load_per_core": 2}), thresholds)
	d.allowed == true
}

test_raw_load_is_not_compared_only_load_per_core if {
	# 6.0 on 4 cores is 1.5 per core: within a per-core maximum of 2.
	d := decide("pre_deploy", object.union(healthy, {"cpu_load_1m": 6, "cpu_load_per_core": 1.5}), thresholds)
	d.allowed == true
}

test_memory_below_minimum_is_denied if {
	d := decide("pre_deploy", object.union(healthy, {"memory_available_mb": 511}), thresholds)
	d.allowed == false
	ids(d) == {"memory_available_too_low"}
	d.violations[0].message == "available memory 511 MB is below the minimum 512 MB"
}

test_memory_equal_to_minimum_passes if {
	d := decide("pre_deploy", object.union(healthy, {"memory_available_mb": 512}), thresholds)
	d.allowed == true
}

test_every_violation_is_reported_sorted_by_id if {
	facts := object.union(healthy, {"disk_free_gb": 1, "cpu_load_per_core": 3, "memory_available_mb": 100})
	d := decide("pre_deploy", facts, thresholds)
	[v.id | some v in d.violations] == ["cpu_load_too_high", "disk_free_too_low", "memory_available_too_low"]
	d.reason == concat("; ", [
		"1-minute load per core 3 is above the maximum 2",
		"disk free 1 GB is below the minimum 10 GB",
		"available memory 100 MB is below the minimum 512 MB",
	])
}

test_null_load_is_facts_unavailable_not_zero if {
	# Windows has no load average: the fact is null and must never pass as 0.
	d := decide("pre_deploy", object.union(healthy, {"cpu_load_1m": null, "cpu_load_per_core": null}), thresholds)
	d.allowed == false
	d.violations == [{
		"id": "facts_unavailable",
		"message": "cpu_load_per_core could not be measured",
		"observed": null,
		"threshold": 2,
	}]
}

test_null_disk_and_memory_are_facts_unavailable if {
	d := decide("status", object.union(healthy, {"disk_free_gb": null, "memory_available_mb": null}), thresholds)
	d.allowed == false
	ids(d) == {"facts_unavailable"}
	count(d.violations) == 2
}

test_absent_facts_are_facts_unavailable if {
	d := decide("pre_deploy", {}, thresholds)
	d.allowed == false
	ids(d) == {"facts_unavailable"}
	count(d.violations) == 3
}

test_non_numeric_fact_is_facts_unavailable if {
	d := decide("pre_deploy", object.union(healthy, {"disk_free_gb": "50"}), thresholds)
	ids(d) == {"facts_unavailable"}
	d.violations[0].observed == "50"
}

test_missing_threshold_is_a_violation_not_a_pass if {
	d := decide("pre_deploy", healthy, object.remove(thresholds, ["max_cpu_load"]))
	d.allowed == false
	d.violations == [{
		"id": "threshold_missing",
		"message": "threshold max_cpu_load is missing or not a number",
		"observed": null,
		"threshold": null,
	}]
}

test_absent_thresholds_deny_with_one_violation_each if {
	d := infrastructure.decision with input as {"question": "pre_deploy", "facts": healthy}
	d.allowed == false
	ids(d) == {"threshold_missing"}
	count(d.violations) == 3
}

test_non_numeric_threshold_is_threshold_missing if {
	d := decide("pre_deploy", healthy, object.union(thresholds, {"min_disk_free_gb": "10"}))
	ids(d) == {"threshold_missing"}
	d.violations[0].threshold == "10"
}

test_unsupported_question_is_denied if {
	d := decide("pre_promote", healthy, thresholds)
	d.allowed == false
	d.violations == [{
		"id": "unsupported_question",
		"message": "unsupported question: policy/infrastructure answers pre_deploy and status",
		"observed": "pre_promote",
		"threshold": null,
	}]
}

test_missing_question_is_unsupported if {
	d := infrastructure.decision with input as {"facts": healthy, "thresholds": thresholds}
	d.allowed == false
	d.question == null
	ids(d) == {"unsupported_question"}
}

test_missing_input_still_yields_a_deny_document if {
	d := infrastructure.decision with input as {}
	d.allowed == false
	d.observed == {}
	ids(d) == {"unsupported_question"}
}

test_messages_show_rounded_figures_with_units if {
	d := decide("pre_deploy", object.union(healthy, {"disk_free_gb": 7.254, "cpu_load_per_core": 2.256, "memory_available_mb": 100.04}), thresholds)
	d.reason == "1-minute load per core 2.26 is above the maximum 2; disk free 7.25 GB is below the minimum 10 GB; available memory 100 MB is below the minimum 512 MB"
	[v.observed | some v in d.violations] == [2.256, 7.254, 100.04]
}

test_figures_that_would_read_as_equal_to_the_limit_are_shown_finer if {
	d := decide("pre_deploy", object.union(healthy, {"disk_free_gb": 9.999, "cpu_load_per_core": 2.004, "memory_available_mb": 511.96}), thresholds)
	[v.message | some v in d.violations] == [
		"1-minute load per core 2.004 is above the maximum 2",
		"disk free 9.999 GB is below the minimum 10 GB",
		"available memory 511.96 MB is below the minimum 512 MB",
	]
}
