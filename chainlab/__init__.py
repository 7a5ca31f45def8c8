"""chainlab: a LangChain-based prompting framework for local LLMs."""

__version__ = "0.1.0"
