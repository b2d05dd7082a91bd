"""Query generation through any OpenAI-compatible endpoint: prompts, reply parsing, server plumbing."""
