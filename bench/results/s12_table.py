import re,sys,collections
d=collections.defaultdict(list)
who=None
for line in open(sys.argv[1]):
    m=re.match(r'== (\S+) round=(\d) threads=(\d+) (\S+)',line)
    if m: who,_,T,P=m.groups(); P='bf16' if P.startswith('bf16') else 'fp32'; continue
    m=re.match(r'(\w+) batch=\d+ step_ms=[\d.]+ min_ms=([\d.]+)',line)
    if m and who: d[(m.group(1),int(T),P,who)].append(float(m.group(2))); continue
    m=re.match(r'(\w+) params=\S+ ([\d.]+) ms/step',line)
    if m and who: d[(m.group(1),int(T),P,who)].append(float(m.group(2)))
print("| model | prec | threads | old | new | torch | new/old | torch/new |")
print("|---|---|---|---|---|---|---|---|")
for model in ['vit_t','lm','resnet18']:
  for P in ['fp32','bf16']:
    for T in [16,8,2]:
      g=lambda w: d.get((model,T,P,w),[])
      o,n,t=g('tessera_old'),g('tessera_new'),g('torch')
      f=lambda v: '/'.join(f'{x:.0f}' for x in v)
      if not n: continue
      print(f"| {model} | {P} | {T} | {f(o)} | {f(n)} | {f(t)} | {min(n)/min(o):.2f} | {min(t)/min(n):.2f} |")
