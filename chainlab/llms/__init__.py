"""chainlab.llms"""
