"""Tiny random Qwen2 generator + tiny random BERT sentence-transformers embedder, both with the real Qwen tokenizer."""
import sys
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer, models
from transformers import AutoTokenizer, BertConfig, BertModel, Qwen2Config, Qwen2ForCausalLM

here, out = Path(__file__).parent, Path(sys.argv[1])
tok = AutoTokenizer.from_pretrained(here / "qwen-tok")
torch.manual_seed(0)
cfg = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                  bos_token_id=151643, eos_token_id=151645, pad_token_id=151643, tie_word_embeddings=True)
gen = Qwen2ForCausalLM(cfg)
gen.save_pretrained(out / "tiny-gen")
tok.save_pretrained(out / "tiny-gen")
for name in ("chat_template.jinja", "generation_config.json"):
    (out / "tiny-gen" / name).write_bytes((here / "qwen-tok" / name).read_bytes())


bert = BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=512))
bert.save_pretrained(out / "tiny-bert")
tok.save_pretrained(out / "tiny-bert")
word = models.Transformer(str(out / "tiny-bert"), max_seq_length=128)
st = SentenceTransformer(modules=[word, models.Pooling(32, "mean"), models.Normalize()], device="cpu")
st.save(str(out / "tiny-emb"))
print("built", out)
