"""StoryChat: ask questions about agile user stories, answered by a local GGUF model."""

__version__ = "0.1.0"
