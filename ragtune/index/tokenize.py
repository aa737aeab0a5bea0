"""BM25 tokenisation: jieba for Chinese, stemmed words for English, one function for both."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import jieba
import Stemmer

jieba.setLogLevel(logging.WARNING)

_HAS_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_WORD = re.compile(r"\w+", re.UNICODE)

ENGLISH_STOPWORDS = frozenset(
    """a an and are as at be but by for if in into is it its of on or such that the their then there these
    they this to was were will with what which who whom whose when where why how does did do done has have had
    from i you he she we me my your his her our us them than so not no can could would should may might""".split()
)
CHINESE_STOPWORDS = frozenset(
    """的 了 是 在 和 与 及 或 也 就 都 而 被 把 对 于 之 其 中 上 下 为 以 由 从 这 那 有 个 一
    吗 呢 吧 啊 么 什么 哪 哪些 哪个 谁 多少 几 怎么 如何 为什么 是否""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-cased search tokens; Chinese runs are cut by jieba (search mode), English words stemmed."""
    text = text.lower()
    if _HAS_CJK.search(text):
        raw = [t.strip() for t in jieba.cut_for_search(text)]
    else:
        raw = _WORD.findall(text)
    stem = _stemmer().stemWord
    tokens = []
    for token in raw:
        if not token or not _WORD.fullmatch(token) or token in ENGLISH_STOPWORDS or token in CHINESE_STOPWORDS:
            continue
        tokens.append(token if _HAS_CJK.search(token) else stem(token))
    return tokens
