"""chainlab.eval"""
