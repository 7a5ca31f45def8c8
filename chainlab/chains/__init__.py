"""chainlab.chains"""
