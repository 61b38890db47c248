"""The numpy MiniLM matches sentence-transformers (torch) to 1e-5 per component."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import ollama
import pytest

from tests.ollama_server.app import OllamaTestServer
from tests.ollama_server.minilm import MiniLM

from .conftest import EMBED

pytestmark = pytest.mark.live

SENTENCES = [
    "The cat sat on the mat.",
    "How do I rotate the API keys?",
    "",  # only [CLS] [SEP]
    "   ",
    "a",
    "Ünïcödé naïve café — 東京タワー 🚀 Привет, мир!",
    "RAG pipelines retrieve context before they generate an answer. " * 40,  # > 256 pieces
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "x" * 300,  # one word longer than WordPiece's 100-character limit: [UNK]
    "Line one\nLine two\tTabbed\r\nWindows line.",
    "SELECT * FROM users WHERE id = 42; -- SQL",
]


@pytest.fixture(scope="module")
def model_dir(ollama_server: OllamaTestServer) -> Path:
    return ollama_server.core.registry.resolve(EMBED).path  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> np.ndarray:
    with pytest.MonkeyPatch.context() as mp:
        # The folder is local; never reach for the hub (read when huggingface_hub imports).
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        st_module = pytest.importorskip("sentence_transformers")
        st = st_module.SentenceTransformer(str(model_dir), device="cpu")
        assert st.max_seq_length == 256
        return np.asarray(st.encode(SENTENCES, batch_size=4, convert_to_numpy=True))


def test_numpy_forward_matches_sentence_transformers(model_dir: Path, reference: np.ndarray
                                                     ) -> None:
    model = MiniLM(model_dir)
    lengths = [len(e.ids) for e in model.encode_tokens(SENTENCES)]
    assert max(lengths) == 256 and lengths[2] == 2  # the cap and the empty input both occur
    ours, _ = model.embed(SENTENCES)
    diff = np.abs(ours - reference)
    assert diff.max() < 1e-5, f"max abs diff {diff.max():.2e} at sentence {diff.max(1).argmax()}"


def test_served_vectors_match_sentence_transformers(ollama_server: OllamaTestServer,
                                                    reference: np.ndarray) -> None:
    client = ollama.Client(host=ollama_server.url)
    served = np.array(client.embed(model=EMBED, input=SENTENCES).embeddings)
    assert np.abs(served - reference).max() < 1e-5
