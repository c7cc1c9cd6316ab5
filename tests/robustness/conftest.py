"""Prints the outcomes the hostile-input tests counted (harness.OUTCOMES): how many
cases each test tried and how many the loader refused or loaded."""
import harness


def pytest_terminal_summary(terminalreporter):
    if not harness.OUTCOMES:
        return
    terminalreporter.section("robustness outcomes")
    for label, counts in sorted(harness.OUTCOMES.items()):
        total = sum(counts.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        terminalreporter.write_line(f"{label}: {total} cases ({detail})")
