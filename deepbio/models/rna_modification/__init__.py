from deepbio.models.rna_modification.vqrna import VQRNA, latent_centre, latent_length
