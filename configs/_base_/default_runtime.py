# Runtime defaults shared by every msclr_mm config (our own copy of mmaction2's, so no
# config needs an `mmaction::` lookup).
default_scope = 'mmaction'
custom_imports = dict(imports=['msclr_mm'], allow_failed_imports=False)

default_hooks = dict(
    # mmengine's RuntimeInfoHook with the logged scalars read from the device only at the
    # logging iterations (no host synchronisation every step; same MessageHub contents)
    runtime_info=dict(type='DeferredRuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, save_best='auto', max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
)

# Checkpoints carry the RNG states so a resumed run replays the same random stream.
custom_hooks = [dict(type='RNGStateHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
