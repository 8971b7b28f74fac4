"""The FAQ knowledge base matched with jieba tokens and BM25 (``rank-bm25`` with Lucene's IDF).

Every question and each of its alternative phrasings is one BM25 document; a FAQ scores the best of
its documents. Tokens are jieba's search-mode cut (``cut_for_search``: long words and their parts,
so 退货地址 finds 退货 and 地址), lower-cased, without punctuation and a short list of function
words (吗 呢 的 我 …) that would otherwise make every question look alike. The FAQ's ``keywords`` are
added to jieba's dictionary so brand words (产品名, 会员日) stay whole. A query's words are expanded
with the brand's synonym groups (退款/退钱/返款): each synonym of a query word is searched as well.

Confidence: BM25 scores have no fixed scale, so the best score is divided by the score that
document would get for its own text (a query repeating the question reaches 1.0). A long message
that shares one word with a phrasing can reach it too ("…脸上起红疹…快递怎么寄回来" against 怎么查物流),
so an answer also needs ``MIN_COVERAGE`` (15 %) of the message's own words in the matched phrasing
(synonyms count); every right answer of the labelled set covers at least 17 %. Below either, or the
threshold (``DEFAULT_THRESHOLD``, measured on ``tests/domains/service/faq_eval.json``, see
docs/service.md) the message goes to a person. jieba's dictionary cache is written under the
SIYU data dir (``<data_dir>/jieba``), never to the system's temporary directory.
"""

from __future__ import annotations

import logging
import math
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jieba
from rank_bm25 import BM25Okapi

DEFAULT_THRESHOLD = 0.25
MIN_COVERAGE = 0.15
STOPWORDS = frozenset("的 了 吗 呢 吧 啊 呀 么 嘛 我 你 您 我们 请问 请 一下 是 在 有 和 就 都 也 要 想 能 可以 怎么 如何 "
                      "什么 哪 哪里 怎样 多少 几 这个 那个 个 还 会 给 被 把 不 ? ？".split())
_lock = threading.Lock()


class LuceneBM25(BM25Okapi):
    """Okapi BM25 with Lucene's IDF, log(1 + (N - n + 0.5) / (n + 0.5)), which never reaches zero.

    rank-bm25's Okapi IDF is zero or negative (then floored to a fraction of the mean) for a word in
    half the documents or more, which in a knowledge base of a dozen questions is common and makes two
    FAQs indistinguishable; Lucene (and Elasticsearch) use this positive variant for the same reason.
    """

    def _calc_idf(self, nd: dict[str, int]) -> None:
        self.idf = {w: math.log(1 + (self.corpus_size - n + 0.5) / (n + 0.5)) for w, n in nd.items()}
        self._postings: dict[str, list[tuple[int, int]]] = {}
        for i, freqs in enumerate(self.doc_freqs):
            for word, tf in freqs.items():
                self._postings.setdefault(word, []).append((i, tf))

    def get_scores(self, query: Sequence[str]) -> list[float]:
        """Return every document's score, visiting only the documents that contain a query word.

        The same sum as rank-bm25's (which looks every word up in every document in Python).
        """
        scores = [0.0] * self.corpus_size
        k1, b, avgdl = self.k1, self.b, self.avgdl
        for q in query:
            idf = self.idf.get(q)
            for i, tf in self._postings.get(q, ()) if idf else ():
                scores[i] += idf * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * self.doc_len[i] / avgdl)))
        return scores


_tokenizers: dict[Path, jieba.Tokenizer] = {}
jieba.setLogLevel(logging.WARNING)


def tokenizer(data_dir: Path) -> jieba.Tokenizer:
    """Return the process's jieba tokenizer whose dictionary cache lives in ``data_dir/jieba``."""
    with _lock:
        tk = _tokenizers.get(data_dir)
        if tk is None:
            cache = data_dir / "jieba"
            cache.mkdir(parents=True, exist_ok=True)
            tk = jieba.Tokenizer()
            tk.tmp_dir = str(cache)
            tk.cache_file = "jieba.cache"
            tk.initialize()
            _tokenizers[data_dir] = tk
        return tk


def tokens(tk: jieba.Tokenizer, text: str) -> list[str]:
    """Return the search tokens of ``text``."""
    norm = unicodedata.normalize("NFKC", text or "").casefold()
    return [t for t in (w.strip() for w in tk.cut_for_search(norm))
            if t and t not in STOPWORDS and not all(unicodedata.category(c)[0] in "PZS" for c in t)]


@dataclass(frozen=True, slots=True)
class FaqSpec:
    """A FAQ as the index needs it."""

    id: int
    question: str
    answer: str
    alternatives: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FaqHit:
    """A ranked FAQ with its confidence and the phrasing that matched."""

    faq: FaqSpec
    confidence: float
    score: float
    phrasing: str
    words: tuple[str, ...]
    coverage: float = 1.0  # share of the message's own words found in the phrasing (synonyms count)

    def answers(self, threshold: float) -> bool:
        """Return whether this hit is good enough to answer without a person."""
        return self.confidence >= threshold and self.coverage >= MIN_COVERAGE


class FaqIndex:
    """BM25 over every phrasing of every FAQ; build once per set of FAQs."""

    def __init__(self, faqs: Sequence[FaqSpec], tk: jieba.Tokenizer,
                 synonyms: Iterable[Iterable[str]] = ()) -> None:
        self.tk = tk
        for faq in faqs:
            for word in faq.keywords:
                if word.strip():
                    tk.add_word(word.strip())
        self.synonyms: dict[str, set[str]] = {}
        for group in synonyms:
            words = {unicodedata.normalize("NFKC", w).strip().casefold() for w in group if w.strip()}
            for w in words:
                tk.add_word(w)
                self.synonyms.setdefault(w, set()).update(words - {w})
        self.docs: list[tuple[FaqSpec, str]] = [(f, p) for f in faqs for p in (f.question, *f.alternatives) if p]
        self.corpus = [tokens(tk, p) for _f, p in self.docs]
        self.bm25 = LuceneBM25(self.corpus) if self.corpus and any(self.corpus) else None
        self._self_scores: dict[int, float] = {}

    def expand(self, words: list[str]) -> list[str]:
        """Return ``words`` followed by the synonyms of each that are not already there."""
        seen, out = set(words), list(words)
        for w in words:
            for extra in sorted(self.synonyms.get(w, ())):
                if extra not in seen:
                    seen.add(extra)
                    out.append(extra)
        return out

    def _self_score(self, i: int) -> float:
        if i not in self._self_scores:
            self._self_scores[i] = float(self.bm25.get_batch_scores(self.corpus[i], [i])[0])
        return self._self_scores[i]

    def rank(self, text: str, limit: int = 3) -> list[FaqHit]:
        """Return up to ``limit`` FAQs best matching ``text``, best first (only positive scores)."""
        own_words = tokens(self.tk, text)
        words = self.expand(own_words)
        if self.bm25 is None or not words:
            return []
        scores = self.bm25.get_scores(words)
        best: dict[int, FaqHit] = {}
        for i in sorted(range(len(scores)), key=lambda k: -scores[k]):
            if scores[i] <= 0:
                break
            faq, phrasing = self.docs[i]
            if faq.id in best:
                continue
            own = self._self_score(i)
            confidence = min(1.0, float(scores[i]) / own) if own > 0 else 0.0
            doc = set(self.corpus[i])
            covered = sum(1 for w in own_words if w in doc or self.synonyms.get(w, set()) & doc) / len(own_words)
            best[faq.id] = FaqHit(faq, round(confidence, 4), round(float(scores[i]), 4), phrasing, tuple(words),
                                  round(covered, 4))
            if len(best) >= limit:
                break
        return sorted(best.values(), key=lambda h: (-h.score, h.faq.id))
