# Infrastructure gate: is this host fit to (re)deploy on?
#
# Input (src/policy/types.ts: InfrastructureFacts, InfrastructureThresholds):
#   {"question": "pre_deploy" | "status", "facts": {...}, "thresholds": {...}}
#
# Decisions are documents, never bare booleans. Every numeric limit comes from input.thresholds
# (the manifest's policy.infrastructure section); this file holds no numbers of its own.
# A fact or threshold that is missing, null or not a number is a violation, never a silent pass.
#
# Load is compared PER CORE: facts.cpu_load_per_core (1-minute load average / core count) against
# thresholds.max_cpu_load, so one manifest means the same thing on a 2-core laptop and a 64-core host.
#
# Violations are sorted (by id, then message) so the same input always yields the same document.
# Messages show rounded figures with units (policies/format.rego); `observed` and `threshold` keep the
# raw numbers.
package swiftdeploy.infrastructure

import rego.v1

import data.swiftdeploy.format

supported_questions := {"pre_deploy", "status"}

# Each compared fact and the threshold it is compared with.
fact_threshold := {
	"disk_free_gb": "min_disk_free_gb",
	"cpu_load_per_core": "max_cpu_load",
	"memory_available_mb": "min_memory_available_mb",
}

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
		"message": "unsupported question: policy/infrastructure answers pre_deploy and status",
		"observed": question,
		"threshold": null,
	}
}

violations contains v if {
	answerable
	some name in fact_threshold
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
	some fact, name in fact_threshold
	not is_number(object.get(facts, fact, null))
	v := {
		"id": "facts_unavailable",
		"message": sprintf("%s could not be measured", [fact]),
		"observed": object.get(facts, fact, null),
		"threshold": object.get(thresholds, name, null),
	}
}

violations contains v if {
	answerable
	observed := facts.disk_free_gb
	limit := thresholds.min_disk_free_gb
	is_number(observed)
	is_number(limit)
	observed < limit
	shown := format.gigabytes_pair(observed, limit)
	v := {
		"id": "disk_free_too_low",
		"message": sprintf("disk free %s is below the minimum %s", shown),
		"observed": observed,
		"threshold": limit,
	}
}

violations contains v if {
	answerable
	observed := facts.cpu_load_per_core
	limit := thresholds.max_cpu_load
	is_number(observed)
	is_number(limit)
	observed > limit
	shown := format.figure_pair(observed, limit)
	v := {
		"id": "cpu_load_too_high",
		"message": sprintf("1-minute load per core %s is above the maximum %s", shown),
		"observed": observed,
		"threshold": limit,
	}
}

violations contains v if {
	answerable
	observed := facts.memory_available_mb
	limit := thresholds.min_memory_available_mb
	is_number(observed)
	is_number(limit)
	observed < limit
	shown := format.megabytes_pair(observed, limit)
	v := {
		"id": "memory_available_too_low",
		"message": sprintf("available memory %s is below the minimum %s", shown),
		"observed": observed,
		"threshold": limit,
	}
}

sorted_violations := sort(violations)

default allowed := false

allowed if count(violations) == 0

reason := sprintf("infrastructure checks passed for %s", [question]) if allowed

reason := concat("; ", [v.message | some v in sorted_violations]) if not allowed

decision := {
	"domain": "infrastructure",
	"question": question,
	"allowed": allowed,
	"reason": reason,
	"violations": sorted_violations,
	"observed": facts,
}
