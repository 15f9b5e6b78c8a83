"""Neural Sheaf Diffusion (Bodnar et al., NeurIPS 2022): sheaf Laplacians on graphkit's ops and the
diagonal, orthogonal (bundle) and general sheaf diffusion models."""
from .laplacian import (
    SheafGraph,
    SheafLaplacian,
    bundle_sheaf_laplacian,
    diagonal_sheaf_laplacian,
    fixed_maps,
    general_sheaf_laplacian,
)
from .models import SHEAVES, BundleSheaf, ConcatSheafLearner, DiagSheaf, EdgeWeightLearner, GeneralSheaf, SheafDiffusion
from .orthogonal import ORTHOGONAL_MAPS, orthogonal_matrices, orthogonal_param_size

__all__ = ["BundleSheaf", "ConcatSheafLearner", "DiagSheaf", "EdgeWeightLearner", "GeneralSheaf", "ORTHOGONAL_MAPS",
           "SHEAVES", "SheafDiffusion", "SheafGraph", "SheafLaplacian", "bundle_sheaf_laplacian",
           "diagonal_sheaf_laplacian", "fixed_maps", "general_sheaf_laplacian", "orthogonal_matrices",
           "orthogonal_param_size"]
