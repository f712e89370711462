"""Small configurations of every model (same code, small widths), in the official config.json form.

Used by tests and by the small model trained in this repository."""

TINY_CONFIGS: dict[str, dict] = {
    "triposg-vae": dict(in_channels=3, latent_channels=16, num_attention_heads=4, width_encoder=64, width_decoder=64,
                        num_layers_encoder=1, num_layers_decoder=2, embed_frequency=8, embed_include_pi=False),
    "triposg-dit": dict(in_channels=16, width=64, num_layers=3, num_attention_heads=4, cross_attention_dim=32),
    "actionmesh-denoiser": dict(in_channels=16, width=64, num_layers=3, num_attention_heads=4, cross_attention_dim=32,
                                mlp_ratio=4.0, temporal_context_size=16),
    "actionmesh-autoencoder": dict(latent_channels=16, width=64, num_layers=2, num_attention_heads=4,
                                   embed_frequency=8, prediction_mode="direct"),
    "dinov2": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=224,
                   patch_size=14),
    "rmbg": {},
}
