"""The HTML report of a run: segments, profiles, model vs baselines, drivers and plots."""

from segml.report.html import (
    load_folder,
    render_folder,
    render_report,
    write_html_atomic,
    write_report,
)

__all__ = ["load_folder", "render_folder", "render_report", "write_html_atomic", "write_report"]
