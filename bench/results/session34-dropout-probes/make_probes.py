"""Session 34's dropout probe controls: ten tuning-zoo bases (held-out zoos 2-17, all tuning sets)
with their hidden dense layer widened to 768 units and a dropout of 0.6 or 0.7 put before the
head, written under OUT/<zoo>/cases/ (OUT/<zoo>/data links to the zoo's data), with a copy of
each base as <base>.yaml.twin for the effect measurement (docs/BENCHMARKS.md, session 34).

    python3 bench/results/session34-dropout-probes/make_probes.py OUT
"""
import re,os,sys
ROOT=os.path.abspath(os.path.join(os.path.dirname(__file__),'..','..','..'))
OUT=sys.argv[1]; os.makedirs(OUT,exist_ok=True); os.chdir(OUT)
bases={'zoo-heldout2':'ok-fm6-base','zoo-heldout4':'ok-d12-base','zoo-heldout5':'ok-c9-base','zoo-heldout6':'ok-v4-base',
 'zoo-heldout11':'ok-n14-base','zoo-heldout12':'ok-t19-base','zoo-heldout14':'ok-n28-base','zoo-heldout15':'ok-s24-base',
 'zoo-heldout16':'ok-t32-base','zoo-heldout17':'ok-m34-base'}
for z,b in bases.items():
    src=open(f'{ROOT}/bench/{z}/cases/{b}.yaml').read().split('\n')
    dense=[i for i,l in enumerate(src) if re.search(r'^\s*- \{dense: \{units: \d+',l)]
    assert len(dense)==2,(z,b,dense)
    os.makedirs(f'{z}/cases',exist_ok=True)
    if not os.path.exists(f'{z}/data'): os.symlink(f'{ROOT}/bench/{z}/data',f'{z}/data')
    for rate in (0.6,0.7):
        out=list(src)
        out[dense[0]]=re.sub(r'units: \d+','units: 768',out[dense[0]])
        indent=re.match(r'^(\s*)-',out[dense[1]]).group(1)
        out.insert(dense[1],f'{indent}- {{dropout: {{rate: {rate}}}}}')
        name=b.replace('-base',f'-dense-768-dropout-{rate}')
        out=[l.replace(b,name) if l.startswith('name:') else l for l in out]
        out=[l for l in out if not l.startswith('#')]
        open(f'{z}/cases/{name}.yaml','w').write('\n'.join(out))
    # twin copy for effect measurement
    open(f'{z}/cases/{b}.yaml.twin','w').write('\n'.join(src))
