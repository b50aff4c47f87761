"""From a question and a set of stories to a checked, cited answer."""
