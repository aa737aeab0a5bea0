"""synth: question/answer pairs written from the user's own passages (`ragtune synth`), for training when a
user has documents but no QA data. `pairs` writes and filters them; `answer_spans` picks short answers."""

from ragtune.synth.pairs import SynthPair, SynthReport, synthesise, write_pairs

__all__ = ["SynthPair", "SynthReport", "synthesise", "write_pairs"]
