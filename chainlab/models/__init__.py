"""chainlab.models"""
