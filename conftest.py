"""Test-run reporting for the whole suite (tests/ and benchmarks/): skips grouped by reason.

pytest's own `-rs` prints one line per skipping *place*; a test parametrised over the CuPy
backend then fills the summary with the same sentence a hundred times. This prints one line
per reason instead, with the count, and the reason is the one `tensorflowish info` gives
(`tensorflowish.backend.gpu_unavailable_reason()` words every GPU skip).
"""

from __future__ import annotations

from collections import Counter


def skip_reason(report) -> str:
    """The reason of a skipped test report, without pytest's 'Skipped: ' prefix."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ").strip()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    reasons = Counter(skip_reason(report) for report in terminalreporter.stats.get("skipped", ())
                      if report.when in ("setup", "call"))
    if not reasons:
        return
    terminalreporter.write_sep("=", f"{sum(reasons.values())} skipped, by reason")
    for reason, count in reasons.most_common():
        terminalreporter.write_line(f"{count:5d} x {reason}")
