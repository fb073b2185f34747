# Guard: has a violation been sustained long enough to open an incident (detected), and has the stack
# been healthy long enough to close one (recovered)? The CLI only counts nothing: it hands over the
# recent status ticks and the manifest's guard.sustain_ticks / guard.recover_ticks.
#
# Input (src/guard/policy.ts: GuardInput):
#   {"sustain_ticks": 3, "recover_ticks": 2,
#    "ticks": [{"error": "..." (only when the scrape failed),
#               "verdicts": {"<domain>": {"allowed": bool, "enforcement": "enforce" | "shadow",
#                                         "violations": [...]}
#                            | {"unavailable": "why", "enforcement": ...}}}, ...]}   oldest first
#
# What a tick counts as:
# - failing: the scrape through nginx failed (the stack did not answer its front door), or a domain
#   whose mode is enforce denied.
# - judged: failing, or every enforce-mode domain answered (allowed true or false). A tick in which
#   an enforce-mode domain could not be asked (the policy engine down, no window yet) and nothing
#   failed says nothing either way: it is skipped, neither extending nor breaking a streak.
# - a shadow-mode domain's deny is ignored both ways: shadow means "watch, do not act on it".
#
# detected: the last sustain_ticks judged ticks are all failing. recovered: the last recover_ticks
# judged ticks are all not failing. Violations (sorted) are those of the last judged tick, each with
# its domain, so an alert shows what was seen with observed vs threshold.
package swiftdeploy.guard

import rego.v1

default ticks := []

ticks := input.ticks if is_array(input.ticks)

enforced(t) := [{"domain": d, "verdict": v} |
	some d, v in t.verdicts
	v.enforcement == "enforce"
]

scrape_failed(t) if is_string(t.error)

failing(t) if scrape_failed(t)

# Violations that say the evidence is not enough to judge (a window still filling, too little
# traffic, a figure that could not be measured), not that the stack is unhealthy: a deny made only
# of these neither opens an incident nor counts as healthy.
inconclusive_ids := {"window_too_short", "insufficient_traffic", "facts_unavailable"}

health_violations(verdict) := [v |
	some v in verdict.violations
	not inconclusive_ids[v.id]
]

failing(t) if {
	some e in enforced(t)
	e.verdict.allowed == false
	count(health_violations(e.verdict)) > 0
}

judged(t) if failing(t)

judged(t) if {
	not scrape_failed(t)
	every e in enforced(t) {
		e.verdict.allowed == true
	}
}

judged_ticks := [t | some t in ticks; judged(t)]

last_judged(n) := array.slice(judged_ticks, count(judged_ticks) - n, count(judged_ticks))

valid_count(n) if {
	is_number(n)
	n >= 1
}

default detected := false

detected if {
	n := input.sustain_ticks
	valid_count(n)
	count(judged_ticks) >= n
	every t in last_judged(n) {
		failing(t)
	}
}

default recovered := false

recovered if {
	n := input.recover_ticks
	valid_count(n)
	count(judged_ticks) >= n
	every t in last_judged(n) {
		not failing(t)
	}
}

default latest := {}

latest := judged_ticks[count(judged_ticks) - 1] if count(judged_ticks) > 0

violations contains v if {
	is_string(latest.error)
	v := {
		"domain": "status",
		"id": "stack_unobservable",
		"message": sprintf("the stack did not answer through nginx: %s", [latest.error]),
		"observed": latest.error,
		"threshold": null,
	}
}

violations contains object.union({"domain": e.domain}, x) if {
	some e in enforced(latest)
	e.verdict.allowed == false
	some x in health_violations(e.verdict)
}

sorted_violations := sort(violations)

default reason := "no sustained violation"

reason := sprintf("violation sustained for %d judged ticks: %s", [input.sustain_ticks, concat("; ", [v.message | some v in sorted_violations])]) if detected

reason := sprintf("healthy for %d judged ticks", [input.recover_ticks]) if {
	recovered
	not detected
}

decision := {
	"domain": "guard",
	"question": "incident",
	"detected": detected,
	"recovered": recovered,
	"reason": reason,
	"violations": sorted_violations,
	"judged_ticks": count(judged_ticks),
}
