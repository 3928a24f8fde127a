"""The core's API routes: institutions, tokens, audit."""
