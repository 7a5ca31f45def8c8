"""chainlab.tasks"""
