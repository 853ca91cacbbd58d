"""Training quoth's answer model: a room of its own that serving never imports (it needs torch)."""
