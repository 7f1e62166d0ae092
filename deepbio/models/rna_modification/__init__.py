from deepbio.models.rna_modification.vqrna import (VQRNA, latent_centre, latent_length,
                                                  vqrna_from_config)
