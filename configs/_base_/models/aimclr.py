# AimCLR: SkeletonCLR + an extreme-augmentation query, energy-based attention drop,
# DDM loss and nearest-neighbour mining from `mining_epoch`.
_base_ = ['./skeletonclr.py']

extreme_aug = [
    dict(type='flip', p=0.5),
    dict(type='rotate', max_angle=30),
    dict(type='time_flip', p=0.5),
    dict(type='gaussian_noise', std=0.01, p=0.5),
    dict(type='gaussian_blur', kernel=15, sigma=(0.1, 2.0), p=0.5),
    dict(type='axis_mask', p=0.5),
]

model = dict(
    type='AimCLR',
    data_preprocessor=dict(
        derived_views=dict(query_extreme=dict(source='query', start='augmented', ops=extreme_aug))
    ),
    mining_epoch=150,
    topk=1,
)
