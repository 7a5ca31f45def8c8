"""chainlab.selectors"""
