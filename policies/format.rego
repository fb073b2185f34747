# Readable numbers for decision messages: "error rate 30.2% is above the maximum 1%", "p99 812 ms".
# Only messages use these; a violation's `observed` and `threshold` keep the raw numbers.
#
# Rounding is half away from zero and trailing zeros are dropped (1%, not 1.0%). A figure compared with
# a limit is shown with its limit through a *_pair function: when the two would read the same but
# differ (1.04% against 1%), both are shown 1000 times finer, so a message never says "1% is above 1%".
#
# Strings are built from integers (format_int) because sprintf("%.1f") prints %!f(int64=5) for whole
# numbers.
package swiftdeploy.format

import rego.v1

# x rounded to 1/scale (scale 1, 10, 100, ... one per decimal), without trailing zeros: "30.2", "1".
decimal(x, scale) := concat("", [sign(x), whole, point, fraction]) if {
	units := round(abs(x) * scale)
	whole_units := floor(units / scale)
	whole := format_int(whole_units, 10)

	# Pad the fractional units to the scale's width by writing them after a leading 1, then drop it.
	padded := format_int((units - (whole_units * scale)) + scale, 10)
	fraction := trim_right(substring(padded, 1, -1), "0")
	point := dot(fraction)
}

sign(x) := "-" if {
	x < 0
} else := ""

dot(fraction) := "." if {
	fraction != ""
} else := ""

# A ratio as a percentage with one decimal: 0.3024 -> "30.2%".
percent(ratio) := sprintf("%s%%", [decimal(ratio * 100, 10)])

# A latency: whole ms from 100 ms, one decimal below, seconds with one decimal from 10 s.
latency(seconds) := sprintf("%s s", [decimal(seconds, 10)]) if {
	seconds >= 10
} else := sprintf("%s ms", [decimal(seconds * 1000, 1)]) if {
	seconds >= 0.1
} else := sprintf("%s ms", [decimal(seconds * 1000, 10)])

# A span of time (a window) in seconds with one decimal: "30.2 s".
duration(seconds) := sprintf("%s s", [decimal(seconds, 10)])

gigabytes(x) := sprintf("%s GB", [decimal(x, 100)])

megabytes(x) := sprintf("%s MB", [decimal(x, 10)])

# A plain figure (load per core, a ratio) with up to two decimals.
figure(x) := decimal(x, 100)

# A count of requests.
count_of(x) := decimal(x, 1)

# Each *_pair(observed, limit) returns [observed, limit] as text, finer when the plain texts collide.
pair(plain, _) := plain if plain[0] != plain[1]

pair(plain, fine) := fine if plain[0] == plain[1]

percent_pair(a, b) := pair([percent(a), percent(b)], [fine_percent(a), fine_percent(b)])

fine_percent(ratio) := sprintf("%s%%", [decimal(ratio * 100, 10000)])

latency_pair(a, b) := pair([latency(a), latency(b)], [fine_latency(a), fine_latency(b)])

fine_latency(seconds) := sprintf("%s ms", [decimal(seconds * 1000, 1000)])

duration_pair(a, b) := pair([duration(a), duration(b)], [fine_duration(a), fine_duration(b)])

fine_duration(seconds) := sprintf("%s s", [decimal(seconds, 10000)])

gigabytes_pair(a, b) := pair([gigabytes(a), gigabytes(b)], [fine_gigabytes(a), fine_gigabytes(b)])

fine_gigabytes(x) := sprintf("%s GB", [decimal(x, 100000)])

megabytes_pair(a, b) := pair([megabytes(a), megabytes(b)], [fine_megabytes(a), fine_megabytes(b)])

fine_megabytes(x) := sprintf("%s MB", [decimal(x, 10000)])

figure_pair(a, b) := pair([figure(a), figure(b)], [decimal(a, 100000), decimal(b, 100000)])
