"""The HTML report of a run: segments, profiles, model vs baselines, drivers and plots."""

from segml.report.html import render_folder, render_report, write_html_atomic, write_report

__all__ = ["render_folder", "render_report", "write_html_atomic", "write_report"]
