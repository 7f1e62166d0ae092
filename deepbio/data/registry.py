"""Registry of the real data sets deepbio uses, and how a file is found.

Every file the upstream projects publish (the held-out test splits included) is
listed with its upstream repository, commit, path and sha256, so that data is
fetched the Keras way (``keras.utils.get_file`` with ``file_hash``) and verified
wherever it comes from.

A file is resolved in this order:

1. ``data_dir`` (the scripts' ``--data-dir``), a local mirror laid out like the
   ``local_path`` column below;
2. the ``DEEPBIO_DATA`` environment variable, the same layout;
3. the Keras cache (``~/.keras/deepbio/``, or ``$KERAS_HOME/deepbio/``);
4. a download from the upstream raw URL with ``keras.utils.get_file`` (Keras is
   imported only then).

Set ``DEEPBIO_OFFLINE=1`` to skip step 4.
"""

import dataclasses
import functools
import hashlib
import os
from pathlib import Path
from urllib.parse import quote

ENV_DATA_DIR = "DEEPBIO_DATA"
ENV_OFFLINE = "DEEPBIO_OFFLINE"
CACHE_SUBDIR = "deepbio"


@dataclasses.dataclass(frozen=True)
class DataFile:
    """One file of a published data set.

    Attributes:
        local_path: str. Path inside a local mirror, e.g.
            ``"omnik_ptm/train/(1)Train9279.txt"``.
        repo: str. Upstream GitHub repository, ``owner/name``.
        commit: str. Upstream commit (40 hex digits).
        upstream_path: str. Path of the file in the upstream repository.
        sha256: str. SHA-256 of the file's bytes.
        size: int. Size in bytes.
        held_out: bool. True for test splits kept out of the shared mirror
            for independent evaluation.
    """

    local_path: str
    repo: str
    commit: str
    upstream_path: str
    sha256: str
    size: int
    held_out: bool = False

    @property
    def url(self):
        """str: The upstream raw URL (spaces and parentheses percent-encoded)."""
        return (f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/"
                f"{quote(self.upstream_path, safe='/')}")

    @property
    def cache_name(self):
        """str: File name used inside the Keras cache (``/`` flattened)."""
        return self.local_path.replace("/", "__")


def _entry(local_path, repo, commit, upstream_path, sha256, size, held_out=False):
    return DataFile(local_path, repo, commit, upstream_path, sha256, size, held_out)


REGISTRY = {f.local_path: f for f in (
    _entry('omnik_ptm/train/(1)Train9279.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Train dataset/(1)Train9279.txt',
           'b77530b728a2073871f45dccdb4ea5e598d96b10733353981b5176e7e06be699', 612824, held_out=False),
    _entry('omnik_ptm/train/(10)Train454.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Train dataset/(10)Train454.txt',
           'ea8c5e7f915153b374d17d72747aba85e1b4873887a262495a0f43240168d729', 29062, held_out=False),
    _entry('omnik_ptm/train/(11)Train73.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Train dataset/(11)Train73.txt',
           '62b714594be9179402fd8e1eed37258b92563c73357aee7b6c6ffcc114452948', 4601, held_out=False),
    _entry('omnik_ptm/train/(2)Train710.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Train dataset/(2)Train710.txt',
           '9fc3475d9f8efd812fccee0d6dcd5c0bc6953f58ddf371ac6f688bde8cde3b3e', 46886, held_out=False),
    _entry('omnik_ptm/train/(3)Train600.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Train dataset/(3)Train600.txt',
           'edf9f34e67f116d0a841d3a6a65ea21d8fcebe026c5c60246533951271fc5b0b', 40204, held_out=False),
    _entry('omnik_ptm/train/(4)Train454.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Train dataset/(4)Train454.txt',
           '49da93d3eb4f43ccd77ac80c4eeebab61264ca1585693607eb083363ac7df80c', 30418, held_out=False),
    _entry('omnik_ptm/train/(5)Train561.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Train dataset/(5)Train561.txt',
           '6739106add58fad3d423458daf6d8c9ae9c8d0c519f9fe915fc5cbdebdac067e', 37605, held_out=False),
    _entry('omnik_ptm/train/(6)Train251.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Train dataset/(6)Train251.txt',
           'b75e4d247521ab97268c52856ee6a773c586f7afd904c2e79ca2fce4ca81795a', 16321, held_out=False),
    _entry('omnik_ptm/train/(7)Train360.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Train dataset/(7)Train360.txt',
           '95ceb90786acae5fbc7da543fa39657569d998cbafbd1963467da368fdb95817', 23408, held_out=False),
    _entry('omnik_ptm/train/(8)Train88.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Train dataset/(8)Train88.txt',
           '05de12b66bf33730a27fa2117bf6fb8ddbb6b05b71db65d7f5871bb02f8912dc', 5544, held_out=False),
    _entry('omnik_ptm/train/(9)Train153.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Train dataset/(9)Train153.txt',
           '2da1cf0d3b6439c3bbcc05803d0de2086c1a67a3d689da474f24c674e51d3461', 9641, held_out=False),
    _entry('omnik_ptm/test/(1)Test4062.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Test dataset/(1)Test4062.txt',
           '7654d1f6905bc060a8c04049b1b91d60544c8089786911e979bbd8a73d5619ba', 260121, held_out=True),
    _entry('omnik_ptm/test/(10)Test194.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Test dataset/(10)Test194.txt',
           '406e6885c29036b7f3d1736f0e48924e762b28e36b8a8cfaf076068944c6dbaf', 12426, held_out=True),
    _entry('omnik_ptm/test/(11)Test36.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Test dataset/(11)Test36.txt',
           '6463c935b7e437646922d2ed9f7d376159f2422bc41d54e061bdd02a73da3f55', 2268, held_out=True),
    _entry('omnik_ptm/test/(2)Test304.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Test dataset/(2)Test304.txt',
           '54ed0b10925f2d3ec8de20bd1f9228cb396844b78742541c523ff3b440ea7b5f', 19493, held_out=True),
    _entry('omnik_ptm/test/(3)Test257.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Test dataset/(3)Test257.txt',
           '1e8591c4cec57bb300e33b95935a257606f4933fab79c2c3230776dffb5b91ba', 16733, held_out=True),
    _entry('omnik_ptm/test/(4)Test194.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Test dataset/(4)Test194.txt',
           '120ea85ddd39e024fe56ee2cdd6557d292cd350308b291502e6c6724a9c1c75e', 12998, held_out=True),
    _entry('omnik_ptm/test/(5)Test240.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Test dataset/(5)Test240.txt',
           '0d70348da0c612fb8360fc2e15e14ff805fcfc7c98610b30137b914d741e6b9e', 15374, held_out=True),
    _entry('omnik_ptm/test/(6)Test107.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Test dataset/(6)Test107.txt',
           '0517343bf99c371ac820c9048fa2ac4518922a3f586e06fff9402f897c4d9551', 6848, held_out=True),
    _entry('omnik_ptm/test/(7)Test154.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Test dataset/(7)Test154.txt',
           'fb81388e9add1e0af4fdbf945e360a3d63b209fb91122585740f732a3d546c3a', 9858, held_out=True),
    _entry('omnik_ptm/test/(8)Test42.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Test dataset/(8)Test42.txt',
           '762a2ee53fd68c1cfa4cb7051115b8dcf5a90408daa3bfa77d93626fa2bcd0d2', 2646, held_out=True),
    _entry('omnik_ptm/test/(9)Test72.txt', 'jiyuzhaoo/OmniK-PTM', '73bc853a7efff306dca2458e9d919c4539864720',
           'dataset/Test dataset/(9)Test72.txt',
           '403bbc627c48c6bbbd8ab3caef4256a96d72be415b7083c43bec7de9db6e205b', 4544, held_out=True),
    _entry('vqrna/train/1-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/1-0.fasta',
           '7a6172d3416a9787158b132bd5dc30a20f7d0e1de9717090441561cc341d81c0', 1294804, held_out=False),
    _entry('vqrna/train/1-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/1-1.fasta',
           '64ffd00cc7ec29a65713e3260eac61ef8722faee8b1091c711a2d0236a9d98ec', 1293786, held_out=False),
    _entry('vqrna/train/10-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/10-0.fasta',
           '7bdcc884d8ffb8f77e949da5019e1d6b3da80ec4e46786c78604b664d0ed5c9c', 2553052, held_out=False),
    _entry('vqrna/train/10-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/10-1.fasta',
           '69e98552b0af1450389334f0a7ed362b75cbd7e45f16b758ed04d9a9cb893223', 2486882, held_out=False),
    _entry('vqrna/train/2-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/2-0.fasta',
           '296adca67c0f7bf4f234358a4a426d1aafab8284b0d9b18f52bd494c2bf4ddff', 1528944, held_out=False),
    _entry('vqrna/train/2-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/2-1.fasta',
           'f3d976d1d5b38c290f8e2d3e66035438583c74070835d1ee0e82eed1dde52990', 1528944, held_out=False),
    _entry('vqrna/train/3-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/3-0.fasta',
           'dbd93d3e2618ab8cfee204f14283b02a4d86b683331f8231e5181857fb16bacc', 1197076, held_out=False),
    _entry('vqrna/train/3-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/3-1.fasta',
           '28f1ec69e78e9d7d6465997ee00bf17b03550c7fe7055b403cf648e83dc4160f', 1197076, held_out=False),
    _entry('vqrna/train/4-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/4-0.fasta',
           '55c3bdfec74c1619e08c39d53c09b1280ff036ff573f70f27e7bb1baf2a3c403', 1834344, held_out=False),
    _entry('vqrna/train/4-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/4-1.fasta',
           '38627b1e8336e3b39cf34de9f7c4ae7cc58b2f2bc19300d28da0d071f1e2d0d1', 1834344, held_out=False),
    _entry('vqrna/train/6-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/6-0.fasta',
           '9c3949b06db81dd3e7109660ecedd6f47480cb80dedc19344c89f811ed06b64e', 2611078, held_out=False),
    _entry('vqrna/train/6-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/6-1.fasta',
           '9721efb35aa903f9a1244c7047da305786c1987f1ef799d0a6c1a5a4780509ea', 2610060, held_out=False),
    _entry('vqrna/train/7-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/7-0.fasta',
           '244ea098a6e24a99b73f7c6b25c952194cccc48c66294ca98c507ec75eed050b', 3008098, held_out=False),
    _entry('vqrna/train/7-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/7-1.fasta',
           '1fdf1219df3ce97b2ed7e0c36f94277082b8963a515db50d756398e5482e60ee', 3008098, held_out=False),
    _entry('vqrna/train/9-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/9-0.fasta',
           '701173071890b93eb02d87fa8da075f74adce6bdc29584a9ded6efb280455519', 1992134, held_out=False),
    _entry('vqrna/train/9-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/train/9-1.fasta',
           'ddc0f834614ddacce5d4ec11fd9edfcc71a84e4b136f5ffa0032c8b7fe7a591a', 1929018, held_out=False),
    _entry('vqrna/valid/1-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/1-0.fasta',
           '8ad00a511ab467650e18bdca6efaf8057f8837d75aea560f8fcf975846acf6d8', 161593, held_out=False),
    _entry('vqrna/valid/1-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/1-1.fasta',
           '687c556059c37e9f9eb0b641f882235099f04f82b55db3198720a1299a0de2c6', 161593, held_out=False),
    _entry('vqrna/valid/10-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/10-0.fasta',
           '3e07769d4ca5cb312a21f1a40b6af1b10b49d67487ce3f40da1b8400afa8434e', 318211, held_out=False),
    _entry('vqrna/valid/10-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/10-1.fasta',
           '57eca75ed766e34b458f21487b515dbcc8ea9f385690a0e491e0e54b7df19f76', 310075, held_out=False),
    _entry('vqrna/valid/2-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/2-0.fasta',
           '294d78754f3a1c0ad0d21c94507ce24dc3d14f205172e809e81636db97509a21', 190069, held_out=False),
    _entry('vqrna/valid/2-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/2-1.fasta',
           'f108da7c0691701f4ba47aa006b679dd05f2a122e41f1a0555e13712e0221b8c', 190069, held_out=False),
    _entry('vqrna/valid/3-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/3-0.fasta',
           '77a058abef470f2408653d76462ce1a343f270d8e174cd6b9047d4326848d035', 149389, held_out=False),
    _entry('vqrna/valid/3-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/3-1.fasta',
           '50e90fb3da092903d11ed241d9eff7c370a105b6a6db8e9254c2ecd014aa31a9', 149389, held_out=False),
    _entry('vqrna/valid/4-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/4-0.fasta',
           'afd8d95147d9d0482d0c3ac3e339c7c95ce73364396c4bad7b36acdb0758ddf1', 228715, held_out=False),
    _entry('vqrna/valid/4-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/4-1.fasta',
           '461fcb9e10d41450447d676bdd0991ab03d1aa66ddb9402475f851a90c68c7d9', 228715, held_out=False),
    _entry('vqrna/valid/5-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/5-0.fasta',
           'e22e4f83c6e5d861cfcce759f59d81a4ee6dfac46f753858e66990ea2c6532d8', 1662302, held_out=False),
    _entry('vqrna/valid/5-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/5-1.fasta',
           '25c105ec3bef306d2de2358bad64435e61c8a1e01b3cd35ab1ad336342d3e9f8', 1661284, held_out=False),
    _entry('vqrna/valid/6-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/6-0.fasta',
           '9d8f5485faadb6a1e2f1c539b1a6c7d8512020d4b7d030b4e25786c87dd803e9', 325330, held_out=False),
    _entry('vqrna/valid/6-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/6-1.fasta',
           'd05336de657ebb89be2202ed7a9ac00e0c6e7afc5184eb1bdf78da0703f7bf03', 325330, held_out=False),
    _entry('vqrna/valid/7-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/7-0.fasta',
           '2cb8ddda9eeb35c1434b2e3e86be6fe3b0676198b34d5c7d86d00cb80806298c', 375163, held_out=False),
    _entry('vqrna/valid/7-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/7-1.fasta',
           '7ef34aa4f4cda2b4571dabbf488db23db2b5ff7e8c1cffe83743ba6365c4b488', 375163, held_out=False),
    _entry('vqrna/valid/9-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/9-0.fasta',
           '50c7500c4e0379dbc3fd2dcf80b87941de1902747bc3318822bf90e90c00208b', 248038, held_out=False),
    _entry('vqrna/valid/9-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/valid/9-1.fasta',
           'b9a4cb040b95c487dd1a30531900f68150639b53726097cd12d181248a8ca9f9', 240919, held_out=False),
    _entry('vqrna/test/1-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/1-0.fasta',
           'e137c72b0ca32d2d1b84d144b0e3a7b1f9fa03b9b21268a0bb71ea3d244e007a', 161434, held_out=True),
    _entry('vqrna/test/1-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/1-1.fasta',
           '56600f3af6465021cc485824af492a7bc5fcecd78a497ac352743e3a1fae0c21', 161434, held_out=True),
    _entry('vqrna/test/10-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/10-0.fasta',
           'd355ddf07d3b0bb2a69db584fc1562fe3f1e0409a086dd12750f18d78e43b0cb', 317898, held_out=True),
    _entry('vqrna/test/10-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/10-1.fasta',
           '51fbd1754b2890d3eeab52c5b95d2eeee603e99dca315f33712ae2615833cc96', 309770, held_out=True),
    _entry('vqrna/test/2-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/2-0.fasta',
           '8fae25d40183da732561445a8fd479cd94f9239e0aba6b2aaf83c89bcbf27b90', 190898, held_out=True),
    _entry('vqrna/test/2-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/2-1.fasta',
           '71b9fa87dc3d9f07a961b8ee7d611257a2ff6f1339c00bc4ca8b68450d663e38', 190898, held_out=True),
    _entry('vqrna/test/3-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/3-0.fasta',
           '3d30acab75fe38222767e54192cfe97a4c6a581409826c20624a28513d8936c0', 149242, held_out=True),
    _entry('vqrna/test/3-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/3-1.fasta',
           'ab0578230edb4c37cc42bbb4f7a36b10556d2afe7b1ebae11a2b8ffa4e57eab7', 149242, held_out=True),
    _entry('vqrna/test/4-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/4-0.fasta',
           '068d49db4e9f2b7508ce5d9b0d624565a5a6bf70d1006a59df80937ba461af08', 228490, held_out=True),
    _entry('vqrna/test/4-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/4-1.fasta',
           '030764311cc1e5f16c448800e799dd811a68522f8c0b5664b4a8033c4f61e06c', 228490, held_out=True),
    _entry('vqrna/test/5-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/5-0.fasta',
           '085abc83d97198187f97d0cd5dcb90ec5a2435a98ac793bc7e271678d012057b', 1660668, held_out=True),
    _entry('vqrna/test/5-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/5-1.fasta',
           'd455374bde35d60a916a6765297c548a2ffa111029182aaf972c68a25a563c26', 1660668, held_out=True),
    _entry('vqrna/test/6-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/6-0.fasta',
           'd848dc9be3743ab634c2e1918f79241cea2064cd596473cce21e03b0337c081f', 326026, held_out=True),
    _entry('vqrna/test/6-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/6-1.fasta',
           '2f6b62071411169b171dd49a51f61ad79b9f96bb9a15e39942427e1c49dacb78', 326026, held_out=True),
    _entry('vqrna/test/7-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/7-0.fasta',
           '56deb3c8021fe8ccdfd3a4c9b501ed412679ea406be69f542e5af3430bb104ba', 375810, held_out=True),
    _entry('vqrna/test/7-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/7-1.fasta',
           'ff3be77a6261fb0ddd8256d2f3855f93da8e7b70fe4a330cf854ca0449008c14', 374794, held_out=True),
    _entry('vqrna/test/9-0.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/9-0.fasta',
           'c4f8115e352b696f7b9523537ae5efbd5fb8d55d85794f6e807aa53b672df785', 248810, held_out=True),
    _entry('vqrna/test/9-1.fasta', '1gao2/VQ-RNA', 'cddeb76e71e8369ff694a938a2bc38f3c3e22612',
           'data/test/9-1.fasta',
           '5f1953e7e873af01594bf6630d347358fa0cb85283136959491704e5ef13d81e', 240682, held_out=True),
    _entry('deepasmm/basset_8988T.csv', 'Jie-Lii/DeepASMM', '0f35ebb32d32f6241e58e8801a9faf1972b10c34',
           'demos/basset_demo/basset_8988T.csv',
           '61104e57545d3821211614c34e098aaee114f1758f14ee6a8335a1d5727046fe', 902703, held_out=False),
    _entry('pronab/pronab_no_mutations.json', 'nyuolab/OmniBioTE', '54afaceae4f16fee8defea49508ef4e8b824f7d7',
           'datasets/pronab_no_mutations.json',
           'c0f332da4681d1dfce3402223479adc52e912b2deac98132073fe31f17718331', 3162216, held_out=False),
)}


def files(prefix=""):
    """Lists the registered files whose local path starts with ``prefix``.

    Args:
        prefix: str. E.g. ``"omnik_ptm/train/"``.

    Returns:
        list of `DataFile`, sorted by local path.
    """
    return [REGISTRY[k] for k in sorted(REGISTRY) if k.startswith(prefix)]


@functools.lru_cache(maxsize=None)
def _sha256(path, mtime_ns, size):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path, entry):
    stat = os.stat(path)
    if _sha256(str(path), stat.st_mtime_ns, stat.st_size) != entry.sha256:
        raise ValueError(
            f"{path}: sha256 does not match the registry entry for "
            f"{entry.local_path!r} (upstream {entry.repo}@{entry.commit[:8]}); "
            "the file is corrupt or a different version.")
    return Path(path)


def _mirror_dirs(data_dir):
    dirs = []
    if data_dir:
        dirs.append(("--data-dir", Path(data_dir)))
    if os.environ.get(ENV_DATA_DIR):
        dirs.append((ENV_DATA_DIR, Path(os.environ[ENV_DATA_DIR])))
    return dirs


def fetch(local_path, data_dir=None, download=None):
    """Returns the local path of a registered data file, fetching it if needed.

    Args:
        local_path: str. Registry key, e.g. ``"vqrna/train/1-1.fasta"``.
        data_dir: str or path-like, optional. A local mirror laid out like
            the registry (the scripts' ``--data-dir``); checked first.
        download: bool, optional. Whether a download may be tried. Defaults
            to True unless ``DEEPBIO_OFFLINE`` is set to a true value.

    Returns:
        `pathlib.Path` of a file whose sha256 matches the registry.

    Raises:
        KeyError: ``local_path`` is not registered.
        FileNotFoundError: the file is in no mirror nor cache and could not be
            downloaded; the message names the file and how to set
            ``DEEPBIO_DATA``.
        ValueError: a local copy exists but its sha256 differs.
    """
    try:
        entry = REGISTRY[local_path]
    except KeyError:
        raise KeyError(f"{local_path!r} is not a registered deepbio data file") from None
    searched = []
    for label, root in _mirror_dirs(data_dir):
        candidate = root / entry.local_path
        searched.append(f"{label}={root}")
        if candidate.is_file():
            return _verified(candidate, entry)
    cache_dir = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / CACHE_SUBDIR
    cached = cache_dir / entry.cache_name
    if cached.is_file():
        return _verified(cached, entry)
    if download is None:
        download = os.environ.get(ENV_OFFLINE, "").lower() not in ("1", "true", "yes")
    reason = "downloads are off (DEEPBIO_OFFLINE)"
    if download:
        import keras  # only to download: importing the data layer stays TensorFlow-free

        try:
            path = keras.utils.get_file(
                fname=entry.cache_name, origin=entry.url, file_hash=entry.sha256,
                hash_algorithm="sha256", cache_subdir=CACHE_SUBDIR)
            return Path(path)
        except Exception as error:  # get_file raises bare Exceptions on URL errors.
            reason = f"download from {entry.url} failed ({error})"
    held = " It is a held-out split, kept out of the shared mirror." if entry.held_out else ""
    raise FileNotFoundError(
        f"deepbio data file {entry.local_path!r} not found: searched "
        f"{', '.join(searched) or 'no local mirror'} and the Keras cache {cache_dir}; "
        f"{reason}.{held} Point the {ENV_DATA_DIR} environment variable (or "
        f"--data-dir) at a mirror that holds {entry.local_path}.")


def register(entries):
    """Adds data files to the registry (a method package's own file table).

    Args:
        entries: iterable of `DataFile`, or of tuples in its field order.

    Raises:
        ValueError: a local path is already registered with a different entry.
    """
    for entry in entries:
        entry = entry if isinstance(entry, DataFile) else DataFile(*entry)
        if REGISTRY.setdefault(entry.local_path, entry) != entry:
            raise ValueError(f"{entry.local_path!r} is already registered with another entry")
