"""Fixtures shipped with the toolkit, for its tests and benchmarks: offline, tiny, deterministic.

* ``retrieval.testing.fake_openai_server``: a real OpenAI-compatible HTTP server on 127.0.0.1 whose replies are
  chosen by markers in the passage (``[[MALFORMED]]``, ``[[429]]``...); also ``python -m
  retrieval.testing.fake_openai_server`` for a server in another process.
* ``retrieval.testing.fake_replies``: what that server's "model" writes (queries built from the passage's words).
* ``retrieval.testing.tiny_topics``: the fixture text (topics with two rare invented keywords each).
* ``retrieval.testing.tiny_model``: a tiny SentenceTransformer (2-layer BERT, WordPiece trained on that text).
* ``retrieval.testing.tiny_dataset``: a tiny dataset folder in the published format.
* ``retrieval.testing.subprocess_cli``: run ``python -m <module>`` as a user would (offline, one thread).

Nothing here imports pytest, and nothing imports ``pipeline/`` at module level: benchmarks use these without
the test suite. The pytest fixtures that wrap them live in the tests' conftest.py files.

Example::

    from retrieval.testing.fake_openai_server import FakeOpenAIServer
    from retrieval.testing.tiny_model import build_tiny_model

    with FakeOpenAIServer(model="fake-model") as server:
        ...  # point an OpenAI client (or the generate stage) at server.url
    model_dir = build_tiny_model(Path("/tmp/tiny") / "model")
"""
