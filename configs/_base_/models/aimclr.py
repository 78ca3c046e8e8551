# AimCLR: SkeletonCLR + an extreme-augmentation query, energy-based attention drop,
# DDM loss and nearest-neighbour mining from `mining_epoch` (0-based; the reference's rule).
_base_ = ['./skeletonclr.py']

# As the reference feeder's `_strong_aug` (aug_method '12345', the default of every released
# config): its own temporal crop and shear, then flip, rotation, Gaussian noise, temporal
# Gaussian blur and axis mask. No time flip (op '6' of the feeder, off in every config),
# and the flip only swaps left and right joints (mirror=False), as the feeder's.
# Noise: the reference adds std 0.01 to NTU coordinates in metres; our clips are in torso
# lengths (DESIGN: normalised), and NTU's torso is 0.43 m (median over the real NTU clips
# of ../shared/data), so 0.01 m is 0.023 here.
extreme_aug = [
    dict(type='temporal_crop'),
    dict(type='shear', amplitude=0.5),
    # the feeder's random_spatial_flip permutes left and right joints without negating x
    dict(type='flip', p=0.5, mirror=False),
    dict(type='rotate', max_angle=30),
    dict(type='gaussian_noise', std=0.023, p=0.5),
    dict(type='gaussian_blur', kernel=15, sigma=(0.1, 2.0), p=0.5),
    dict(type='axis_mask', p=0.5),
]

model = dict(
    type='AimCLR',
    data_preprocessor=dict(
        # start='input': an independent draw from the clip, as the feeder's data1 (not the
        # query's crop and shear)
        derived_views=dict(query_extreme=dict(source='query', start='input', ops=extreme_aug))
    ),
    mining_epoch=150,
    topk=1,
)
