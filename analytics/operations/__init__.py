"""Operations: retention and maintenance, run-time settings, logs, metrics, diagnostics."""
