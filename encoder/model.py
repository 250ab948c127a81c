"""BERT as Devlin et al. (2019) describe it, in modules named as the paper names them.

Post-layer-norm Transformer encoder: embeddings (token + segment + learned position, summed, then
LayerNorm), N layers of multi-head self-attention and a GELU feed-forward block, each wrapped in a
residual connection followed by LayerNorm, a tanh pooler on [CLS], and the two pretraining heads. The
shapes match a standard BERT checkpoint one to one, so `hf_import` can load one exactly; the only
layout change is that Q, K and V live in one fused projection (one matrix product instead of three).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import BertConfig


class BertEmbeddings(nn.Module):
    """Token, segment (token-type) and learned position embeddings, summed and layer-normalised."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word(input_ids) + self.token_type(token_type_ids) + self.position(positions)
        return self.dropout(self.norm(x))


class BertSelfAttention(nn.Module):
    """Multi-head self-attention through PyTorch's fused scaled_dot_product_attention.

    The fused kernel never materialises the softmax matrix in Python-visible memory and picks the best
    backend (FlashAttention on CUDA, a blocked kernel on CPU), which is why it is used instead of
    writing softmax(QK^T/sqrt(d))V out by hand.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.head_dim
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.output = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.dropout

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        batch, length, width = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (batch, heads, length, head_dim)
        dropout = self.dropout_p if self.training else 0.0
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
        return self.output(context.transpose(1, 2).reshape(batch, length, width))


class BertFeedForward(nn.Module):
    """Position-wise feed-forward block: expand, GELU, project back."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.intermediate = nn.Linear(config.hidden_size, config.intermediate_size)
        self.output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.approximate = "tanh" if config.activation == "gelu_tanh" else "none"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(F.gelu(self.intermediate(x), approximate=self.approximate))


class BertLayer(nn.Module):
    """One Transformer layer, post-LN as in the paper: x = LN(x + Sublayer(x)) for both sublayers."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertSelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = BertFeedForward(config)
        self.output_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        x = self.attention_norm(x + self.dropout(self.attention(x, attn_mask)))
        return self.output_norm(x + self.dropout(self.feed_forward(x)))


class BertEncoder(nn.Module):
    """The stack of identical layers."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.num_layers))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, attn_mask)
        return x


class BertPooler(nn.Module):
    """Dense + tanh over the [CLS] state: the input of the next-sentence head."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))


def attention_bias(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """Turn a (batch, length) 1/0 padding mask into SDPA's boolean (batch, 1, 1, length) mask.

    Callers pass None when nothing is padded so the kernel takes its mask-free path; the check is
    theirs because inspecting a GPU tensor here would stall the device on every step.
    """
    if attention_mask is None:
        return None
    return attention_mask.bool()[:, None, None, :]


class BertModel(nn.Module):
    """The BERT backbone: token ids in, contextual states (and the pooled [CLS]) out."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config)
        self.apply(lambda module: init_weights(module, config.initializer_range))

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return the last layer's states, (batch, length, hidden)."""
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)
        return self.encoder(x, attention_bias(attention_mask))


class BertMLMHead(nn.Module):
    """Masked-language-model head: transform (dense, GELU, LayerNorm), then a decoder whose weight is
    the word-embedding matrix itself (tied, as in the paper) plus an output bias."""

    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.decoder.weight = word_embeddings.weight
        self.approximate = "tanh" if config.activation == "gelu_tanh" else "none"

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(F.gelu(self.dense(hidden), approximate=self.approximate)))


class BertNSPHead(nn.Module):
    """Next-sentence-prediction head: is segment B the real continuation of A? (2 logits)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.classifier = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.classifier(pooled)


class BertForPreTraining(nn.Module):
    """Backbone plus the MLM and NSP heads."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.bert = BertModel(config)
        self.mlm_head = BertMLMHead(config, self.bert.embeddings.word)
        self.nsp_head = BertNSPHead(config)
        # Initialise the heads' own tensors only: the decoder weight is the (already initialised)
        # word-embedding matrix.
        for module in (self.mlm_head.dense, self.mlm_head.norm, self.nsp_head.classifier):
            init_weights(module, config.initializer_range)
        nn.init.zeros_(self.mlm_head.decoder.bias)

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        mlm_positions: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (MLM logits, NSP logits).

        With `mlm_positions` (batch, P) the vocabulary projection, by far the largest matrix product
        of the head, runs only on those P positions per row rather than on every token.
        """
        hidden = self.bert(input_ids, token_type_ids, attention_mask)
        if mlm_positions is not None:
            hidden_for_mlm = torch.gather(
                hidden, 1, mlm_positions[..., None].expand(-1, -1, hidden.shape[-1])
            )
        else:
            hidden_for_mlm = hidden
        return self.mlm_head(hidden_for_mlm), self.nsp_head(self.bert.pooler(hidden))



class BertForPairScoring(nn.Module):
    """A cross-encoder: the backbone reads `[CLS] query [SEP] passage [SEP]` (segment ids 0…0 1…1, the
    paper's sentence-pair input) and the next-sentence head scores the pooled [CLS]. The score is the
    head's margin for "B belongs with A" (logit 0 minus logit 1), so a pretrained checkpoint's NSP head,
    trained on exactly that question, is where a reranker starts; one without it starts from a fresh head."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.bert = BertModel(config)
        self.nsp_head = BertNSPHead(config)
        init_weights(self.nsp_head.classifier, config.initializer_range)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Return one relevance score per pair, (batch,)."""
        logits = self.nsp_head(self.bert.pooler(self.bert(input_ids, token_type_ids, attention_mask)))
        return logits[:, 0] - logits[:, 1]

def init_weights(module: nn.Module, std: float) -> None:
    """BERT's initialisation: normal(0, 0.02) weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=std)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
