# ruff: noqa: E501  (prose data: one abstract per line reads better than wrapped strings)
"""A small hand-written corpus on four distinct topics, for the ranker's tests.

Written for these tests (not copied from anywhere): short titles and abstracts in the
style of arXiv listings. Ids are prefixed by topic: ``nlp-``, ``bandit-``, ``prot-``,
``astro-``, plus a few ``sec-`` papers in cs.CR for muting.
"""

from __future__ import annotations

from paperboy.recommender import Paper

_NLP = [
    (
        "Attention Is All You Need",
        "We propose the transformer, a sequence transduction model based solely on attention mechanisms, dispensing with recurrence. Self-attention layers with multi-head attention reach state of the art on machine translation.",
    ),
    (
        "Efficient Transformers for Long Documents",
        "Self-attention scales quadratically with sequence length. We introduce sparse attention patterns so transformer language models can read long documents for summarization and question answering.",
    ),
    (
        "Pretraining Bidirectional Transformers for Language Understanding",
        "We pretrain deep bidirectional transformer encoders with masked language modeling on unlabeled text, then fine-tune for question answering and natural language inference.",
    ),
    (
        "Scaling Laws for Neural Language Models",
        "We study how language model loss scales with model size, dataset size and compute for transformer language models trained on web text tokens.",
    ),
    (
        "Multi-Head Attention Heads Can Be Pruned",
        "Many attention heads in a trained transformer are redundant. Pruning most heads of multi-head attention barely hurts machine translation quality.",
    ),
    (
        "Instruction Tuning Improves Zero-Shot Language Models",
        "Fine-tuning large language models on a collection of tasks described by instructions improves zero-shot performance of the transformer on unseen language tasks.",
    ),
    (
        "Retrieval-Augmented Generation for Question Answering",
        "We combine a pretrained language model with a dense retriever over Wikipedia passages; the transformer generator attends to retrieved text for open-domain question answering.",
    ),
    (
        "Positional Encodings for Transformer Language Models",
        "We compare absolute, relative and rotary positional encodings in self-attention and show rotary encodings help language models extrapolate to longer sequences.",
    ),
    (
        "Neural Machine Translation with Subword Units",
        "Rare words hurt machine translation. We segment words into subword units with byte pair encoding so the translation model handles open vocabulary.",
    ),
    (
        "Linear Attention Transformers Are Fast Recurrent Models",
        "Expressing self-attention as a linear dot product of kernel feature maps reduces the cost of attention from quadratic to linear in sequence length for autoregressive transformers.",
    ),
]

_BANDIT = [
    (
        "Regret Bounds for Stochastic Multi-Armed Bandits",
        "We analyse upper confidence bound algorithms for the stochastic multi-armed bandit problem and prove logarithmic regret bounds matching the lower bound.",
    ),
    (
        "Thompson Sampling for Contextual Bandits",
        "Thompson sampling with linear payoffs achieves near-optimal regret for contextual bandits; we give a posterior sampling analysis and experiments on recommendation.",
    ),
    (
        "Best Arm Identification with Fixed Confidence",
        "We study pure exploration in multi-armed bandits: identify the arm with the highest mean reward with few samples, and give an algorithm with optimal sample complexity.",
    ),
    (
        "Adversarial Bandits and the Exp3 Algorithm",
        "In the adversarial bandit setting rewards are chosen by an adversary. The Exp3 algorithm with exponential weights attains sublinear regret against the best arm.",
    ),
    (
        "Exploration in Reinforcement Learning with Optimism",
        "Optimism in the face of uncertainty drives exploration in reinforcement learning; we derive regret bounds for tabular Markov decision processes with upper confidence bonuses.",
    ),
    (
        "Batched Bandits for Clinical Trials",
        "Adaptive clinical trials allocate patients to treatment arms in batches. We design batched bandit algorithms with low regret and few policy switches.",
    ),
    (
        "Linear Bandits with Heavy-Tailed Rewards",
        "Rewards in linear bandits may have heavy tails. Median-of-means estimators give robust confidence sets and regret bounds for heavy-tailed linear bandits.",
    ),
    (
        "Dueling Bandits from Pairwise Preferences",
        "In dueling bandits the learner observes only pairwise comparisons between arms; we minimise regret with respect to the Condorcet winner.",
    ),
    (
        "Non-Stationary Bandits with Sliding Windows",
        "When arm reward distributions drift over time, sliding window upper confidence bound algorithms track the best arm with bounded dynamic regret.",
    ),
    (
        "Combinatorial Semi-Bandits for Online Ranking",
        "We cast online ranking of items as a combinatorial semi-bandit, where the learner picks a set of arms and observes each reward, and bound the regret.",
    ),
]

_PROT = [
    (
        "Highly Accurate Protein Structure Prediction",
        "A deep network predicts the three-dimensional protein structure from the amino acid sequence and multiple sequence alignments with near-experimental accuracy.",
    ),
    (
        "Protein Language Models Learn Evolutionary Constraints",
        "Language models trained on millions of protein sequences learn residue contacts and evolutionary constraints without supervision, aiding protein structure prediction.",
    ),
    (
        "Generative Design of Protein Binders",
        "Diffusion models over protein backbones generate novel binders; designed proteins fold as predicted and bind their target with high affinity in the lab.",
    ),
    (
        "Predicting Mutation Effects on Protein Stability",
        "We predict how single amino acid mutations change protein folding stability using structure-aware graph neural networks trained on deep mutational scans.",
    ),
    (
        "Cryo-EM Density Maps to Atomic Protein Models",
        "We build atomic models of protein complexes directly from cryo-electron microscopy density maps with a network that traces the backbone and places side chains.",
    ),
    (
        "Protein-Ligand Docking with Equivariant Networks",
        "An equivariant neural network predicts the binding pose of small molecule ligands in protein pockets faster than classical docking programs.",
    ),
    (
        "Inverse Folding: Sequences for a Given Backbone",
        "Given a protein backbone structure, a message passing network designs amino acid sequences that fold into it, recovering native sequences at high rates.",
    ),
    (
        "Antibody Structure Prediction from Sequence",
        "We predict antibody structures, including the hypervariable loops, from heavy and light chain sequences, improving on homology modelling.",
    ),
    (
        "Molecular Dynamics of Intrinsically Disordered Proteins",
        "Coarse-grained molecular dynamics simulations reveal conformational ensembles of intrinsically disordered proteins and their phase separation.",
    ),
    (
        "Enzyme Function Annotation with Contrastive Learning",
        "Contrastive learning on protein sequence embeddings assigns enzyme commission numbers to uncharacterised enzymes more accurately than sequence alignment.",
    ),
]

_ASTRO = [
    (
        "Dark Matter Halos of Dwarf Galaxies",
        "Rotation curves of dwarf galaxies constrain the density profiles of dark matter halos; we find cored profiles in tension with cold dark matter simulations.",
    ),
    (
        "Gravitational Lensing Constraints on the Hubble Constant",
        "Time delays between multiple images of lensed quasars measure the Hubble constant independently of the cosmic distance ladder.",
    ),
    (
        "A Survey of High-Redshift Galaxies with JWST",
        "Deep infrared imaging reveals bright galaxies at redshift above ten, more numerous than galaxy formation models predict in the early universe.",
    ),
    (
        "Supernova Cosmology and Dark Energy",
        "Type Ia supernovae as standard candles trace the expansion history of the universe and constrain the dark energy equation of state.",
    ),
    (
        "Exoplanet Atmospheres from Transmission Spectra",
        "Transmission spectroscopy during planetary transits detects water and carbon dioxide in the atmospheres of hot Jupiter exoplanets.",
    ),
    (
        "Black Hole Mergers Observed in Gravitational Waves",
        "Gravitational wave detectors observe binary black hole mergers; we infer black hole masses and spins and the merger rate across cosmic time.",
    ),
    (
        "Star Formation Quenching in Galaxy Clusters",
        "Galaxies falling into clusters lose their gas by ram pressure stripping, quenching star formation; we measure quenching timescales from cluster surveys.",
    ),
    (
        "The Cosmic Microwave Background Power Spectrum",
        "Measurements of temperature and polarisation anisotropies of the cosmic microwave background constrain cosmological parameters of the universe.",
    ),
    (
        "Fast Radio Bursts from Magnetars",
        "A fast radio burst coincident with an X-ray flare from a galactic magnetar links fast radio bursts to highly magnetised neutron stars.",
    ),
    (
        "Stellar Streams Probe the Milky Way Dark Matter Halo",
        "Tidal stellar streams from disrupted globular clusters trace the gravitational potential and the dark matter halo of the Milky Way galaxy.",
    ),
]

_SEC = [
    (
        "Side-Channel Attacks on Language Model Inference",
        "Timing side channels leak the tokens generated by transformer language models served in the cloud; we mount the attack and propose constant-time decoding.",
    ),
    (
        "Membership Inference against Protein Models",
        "We show membership inference attacks reveal whether a protein sequence was in the training set of protein language models, a privacy risk for proprietary data.",
    ),
]


def _make(prefix: str, rows: list[tuple[str, str]], category: str) -> list[Paper]:
    return [
        Paper(
            id=f"{prefix}-{i:02d}",
            title=title,
            abstract=abstract,
            authors=(f"Author {prefix.title()} {i}",),
            categories=(category,),
        )
        for i, (title, abstract) in enumerate(rows)
    ]


NLP = _make("nlp", _NLP, "cs.CL")
BANDIT = _make("bandit", _BANDIT, "cs.LG")
PROT = _make("prot", _PROT, "q-bio.BM")
ASTRO = _make("astro", _ASTRO, "astro-ph.GA")
SEC = _make("sec", _SEC, "cs.CR")
ALL = [*NLP, *BANDIT, *PROT, *ASTRO, *SEC]
