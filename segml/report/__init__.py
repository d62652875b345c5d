"""The HTML report of a run: segments, profiles, model vs baselines, drivers and plots."""

from segml.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]
