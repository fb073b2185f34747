package swiftdeploy.format_test

import rego.v1

import data.swiftdeploy.format

test_decimal_rounds_half_away_from_zero_and_drops_trailing_zeros if {
	format.decimal(30.245, 10) == "30.2"
	format.decimal(30.25, 10) == "30.3"
	format.decimal(2.5, 1) == "3"
	format.decimal(1, 10) == "1"
	format.decimal(1.0, 100) == "1"
	format.decimal(1.5, 100) == "1.5"
	format.decimal(0, 10) == "0"
	format.decimal(0.05, 100) == "0.05"
	format.decimal(0.00001, 100) == "0"
	format.decimal(100, 10) == "100"
}

test_decimal_never_uses_an_exponent if {
	format.decimal(1234567.5, 10) == "1234567.5"
	format.decimal(2000000.25, 100) == "2000000.25"
}

test_decimal_keeps_the_sign if {
	format.decimal(-1.5, 10) == "-1.5"
	format.decimal(-0.25, 100) == "-0.25"
}

test_percent_has_one_decimal_at_most if {
	format.percent(0.3024523160762943) == "30.2%"
	format.percent(0.01) == "1%"
	format.percent(1) == "100%"
	format.percent(0) == "0%"
	format.percent(0.0025) == "0.3%"
}

test_latency_is_seconds_from_ten_seconds if {
	format.latency(10) == "10 s"
	format.latency(12.34) == "12.3 s"
	format.latency(9.9994) == "9999 ms"
}

test_latency_is_whole_milliseconds_from_100_ms if {
	format.latency(0.8124) == "812 ms"
	format.latency(0.5) == "500 ms"
	format.latency(0.1) == "100 ms"
}

test_latency_has_one_decimal_below_100_ms if {
	format.latency(0.0999) == "99.9 ms"
	format.latency(0.0125) == "12.5 ms"
	format.latency(0.005) == "5 ms"
}

test_units if {
	format.duration(30.2) == "30.2 s"
	format.duration(5) == "5 s"
	format.gigabytes(9.5) == "9.5 GB"
	format.gigabytes(7.254) == "7.25 GB"
	format.megabytes(511) == "511 MB"
	format.megabytes(1234567.5) == "1234567.5 MB"
	format.figure(2.256) == "2.26"
	format.count_of(1500000) == "1500000"
}

test_pairs_that_read_differently_stay_plain if {
	format.percent_pair(0.3024523160762943, 0.01) == ["30.2%", "1%"]
	format.latency_pair(0.8124, 0.5) == ["812 ms", "500 ms"]
	format.duration_pair(5, 30) == ["5 s", "30 s"]
	format.gigabytes_pair(9.5, 10) == ["9.5 GB", "10 GB"]
	format.megabytes_pair(511, 512) == ["511 MB", "512 MB"]
	format.figure_pair(2.25, 2) == ["2.25", "2"]
}

test_pairs_that_would_read_the_same_are_shown_finer if {
	format.percent_pair(0.0104, 0.01) == ["1.04%", "1%"]
	format.latency_pair(0.5002, 0.5) == ["500.2 ms", "500 ms"]
	format.duration_pair(29.96, 30) == ["29.96 s", "30 s"]
	format.gigabytes_pair(9.999, 10) == ["9.999 GB", "10 GB"]
	format.megabytes_pair(511.96, 512) == ["511.96 MB", "512 MB"]
	format.figure_pair(2.004, 2) == ["2.004", "2"]
}
