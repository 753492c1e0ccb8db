"""One module per TUI screen; each is a widget the app puts in a tab."""
