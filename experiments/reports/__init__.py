"""Reports: the validation report, monitoring report and customer report (Jinja templates)."""
