#pragma once
// The HTML report's style sheet and chart script, inlined once into every report
// (report/html.cpp). The script is the project's own, so a report needs no library, no network
// and no build step: line charts (hover values, drag to zoom on x, double-click to reset, log
// toggle, second axis, vertical markers, horizontal reference lines), heatmaps with hover, and
// bar charts. It reads the data from <script id="lossdoctor-data" type="application/json">.
// Charts are drawn at their box's width (up to 760 units, then scaled up) and redrawn when the
// window's width changes, so their text stays legible on a phone; mouse, pen and touch share one
// set of pointer handlers. Every chart element gets data-series / data-points attributes, and the
// body data-errors, data-overflow, data-min-chart-font and data-split-words, that tests read.

namespace lossdoctor::report::html_assets {

inline const char* kStyle = R"CSS(
:root{--fg:#1d2330;--muted:#5b6475;--line:#d8dce4;--bg:#fff;--soft:#f4f6f9;--bad:#b42318;--good:#1a7f37;--warn:#9a6700;--accent:#2f6feb}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1100px;padding:16px}
h1{font-size:1.35em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .5em;border-bottom:1px solid var(--line);padding-bottom:.2em}
.meta{color:var(--muted);margin:.2em 0}
h1,h2,h3,p,li,summary{overflow-wrap:anywhere}
td{overflow-wrap:break-word}.id{white-space:nowrap}
th{overflow-wrap:normal;word-break:keep-all}
.verdict{display:inline-block;font-weight:600;padding:.15em .7em;border-radius:1em;color:#fff}
.verdict.healthy{background:var(--good)}.verdict.unhealthy{background:var(--bad)}
table{border-collapse:collapse;width:100%;margin:.4em 0}
th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--soft);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.status-confirmed{color:var(--bad);font-weight:600}.status-refuted{color:var(--good)}.status-suspected{color:var(--warn)}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
pre{background:var(--soft);padding:.6em;overflow:auto;white-space:pre-wrap;word-break:break-word}
.fix code{background:var(--soft);padding:.1em .3em;border-radius:3px;word-break:break-all}
button{font:inherit;font-size:.85em;border:1px solid var(--line);background:var(--bg);border-radius:4px;padding:.1em .5em;cursor:pointer}
details summary{cursor:pointer;color:var(--accent)}
details ul{margin:.3em 0 .3em 1.2em;padding:0}
.chart,.heatmap,.bars{width:100%;margin:.3em 0 1em;position:relative}
.chart svg,.heatmap svg,.bars svg{width:100%;height:auto;display:block}
.controls{margin:.2em 0;color:var(--muted);font-size:.9em}
.tip{position:absolute;pointer-events:none;background:rgba(29,35,48,.92);color:#fff;font-size:12px;padding:4px 6px;border-radius:4px;white-space:pre;display:none;z-index:2}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(120px,1fr));gap:8px}
.gallery figure{margin:0;border:1px solid var(--line);border-radius:4px;padding:4px;background:var(--soft)}
.gallery img{width:100%;image-rendering:pixelated;display:block}
.gallery figcaption{font-size:.8em;color:var(--muted)}
#errors{color:var(--bad);font-weight:600}
.scroll{overflow-x:auto}
@media (max-width:600px){body{padding:8px;font-size:14px}th,td{padding:.25em .3em}th{font-size:.9em}.hide-narrow{display:none}.controls{font-size:.85em}.id{white-space:normal}td code{word-break:break-all}}
@media print{button,.controls{display:none}details{display:block}details>*{display:block}}
)CSS";

inline const char* kScript = R"JS(
(function(){
'use strict';
var errors=0;
function fail(msg){errors++;document.body.setAttribute('data-errors',String(errors));if(window.console)console.error('lossdoctor report: '+msg);
 var e=document.getElementById('errors');if(e){e.hidden=false;e.textContent+=msg+'\n';}}
window.addEventListener('error',function(ev){fail('script error: '+ev.message);});
var NS='http://www.w3.org/2000/svg';
function el(tag,attrs,parent){var e=document.createElementNS(NS,tag);for(var k in attrs)e.setAttribute(k,attrs[k]);if(parent)parent.appendChild(e);return e;}
function fmt(v){if(v===null||v===undefined||!isFinite(v))return String(v);var a=Math.abs(v);
 if(a!==0&&(a<1e-3||a>=1e5))return v.toExponential(2);return String(Math.round(v*1000)/1000);}
function ticks(lo,hi,n){var span=hi-lo;if(!(span>0))return[lo];var step=Math.pow(10,Math.floor(Math.log10(span/n)));
 var err=span/n/step;if(err>=7.5)step*=10;else if(err>=3.5)step*=5;else if(err>=1.5)step*=2;
 var out=[];for(var t=Math.ceil(lo/step)*step;t<=hi+step*1e-9;t+=step)out.push(Math.abs(t)<step*1e-9?0:t);return out;}
var palette=['#2f6feb','#d1242f','#1a7f37','#9a6700','#8250df','#0a7ea4','#bf3989','#57606a'];
var data=JSON.parse(document.getElementById('lossdoctor-data').textContent);
// Charts are drawn in their box's CSS pixels up to 760 (wider boxes scale the drawing up), so an
// 11-unit label is at least 11 px on a phone instead of a 760-unit drawing shrunk to half.
function chartWidth(host){var w=host.clientWidth;return w>0?Math.max(280,Math.min(760,Math.round(w))):760;}
var redraws=[];

// Line chart. spec: {series:[{name,points:[[x,y]],axis:'y'|'y2',dash,dots,color,width}],
// vlines:[{x,label}], hlines:[{y,label}], xlabel, ylabel, y2label, logy, logx}
function lineChart(host,spec){
 var W=760,H=320,L=56,R=spec.series.some(function(s){return s.axis==='y2';})?60:16,T=34,B=40;
 var state={x0:null,x1:null,log:!!spec.logy};
 var controls=document.createElement('div');controls.className='controls';host.appendChild(controls);
 if(spec.logToggle!==false){var b=document.createElement('button');b.type='button';b.className='log-toggle';
  b.textContent='log scale';b.onclick=function(){state.log=!state.log;b.textContent=state.log?'linear scale':'log scale';draw();};controls.appendChild(b);}
 var reset=document.createElement('button');reset.type='button';reset.textContent='reset zoom';reset.hidden=true;
 reset.onclick=function(){state.x0=state.x1=null;draw();};controls.appendChild(reset);
 var hint=document.createElement('span');hint.textContent='  drag across to zoom · hover or tap for values';controls.appendChild(hint);
 var svg=el('svg',{role:'img'},host);svg.style.touchAction='pan-y';
 var tip=document.createElement('div');tip.className='tip';host.appendChild(tip);
 host.setAttribute('data-series',String(spec.series.length));
 function tx(x){return spec.logx?Math.log10(x):x;}
 function draw(){
  while(svg.firstChild)svg.removeChild(svg.firstChild);
  W=chartWidth(host);svg.setAttribute('viewBox','0 0 '+W+' '+H);reset.hidden=state.x0===null;var nx=W<500?4:6,F=W<500?12:11;
  var xs=[];spec.series.forEach(function(s){s.points.forEach(function(p){if(p[1]!==null&&(!spec.logx||p[0]>0))xs.push(tx(p[0]));});});
  if(!xs.length){el('text',{x:W/2,y:H/2,'text-anchor':'middle',fill:'#5b6475'},svg).textContent='no data';return;}
  var xmin=state.x0!==null?state.x0:Math.min.apply(null,xs),xmax=state.x1!==null?state.x1:Math.max.apply(null,xs);
  if(xmax===xmin)xmax=xmin+1;
  function range(axis){var lo=Infinity,hi=-Infinity;spec.series.forEach(function(s){if((s.axis||'y')!==axis)return;
   s.points.forEach(function(p){var x=tx(p[0]),y=p[1];if(y===null||!isFinite(y)||x<xmin||x>xmax)return;if(state.log&&axis==='y'&&y<=0)return;
    var v=state.log&&axis==='y'?Math.log10(y):y;lo=Math.min(lo,v);hi=Math.max(hi,v);});});
   (spec.hlines||[]).forEach(function(h){if(axis==='y'&&isFinite(h.y)&&(!state.log||h.y>0)){var v=state.log?Math.log10(h.y):h.y;lo=Math.min(lo,v);hi=Math.max(hi,v);}});
   if(!isFinite(lo)){lo=0;hi=1;}if(hi===lo){hi=lo+1;}var pad=(hi-lo)*0.05;return[lo-pad,hi+pad];}
  var ry=range('y'),ry2=range('y2');
  function px(x){return L+(tx(x)-xmin)/(xmax-xmin)*(W-L-R);}
  function py(y,axis){var r=axis==='y2'?ry2:ry;var v=(state.log&&axis!=='y2')?Math.log10(y):y;return T+(1-(v-r[0])/(r[1]-r[0]))*(H-T-B);}
  el('rect',{x:L,y:T,width:W-L-R,height:H-T-B,fill:'#fff',stroke:'#d8dce4'},svg);
  ticks(xmin,xmax,nx).forEach(function(t){var X=L+(t-xmin)/(xmax-xmin)*(W-L-R);el('line',{x1:X,x2:X,y1:T,y2:H-B,stroke:'#eef0f4'},svg);
   el('text',{x:X,y:H-B+14,'text-anchor':'middle','font-size':F,fill:'#5b6475'},svg).textContent=fmt(spec.logx?Math.pow(10,t):t);});
  ticks(ry[0],ry[1],5).forEach(function(t){var Y=T+(1-(t-ry[0])/(ry[1]-ry[0]))*(H-T-B);el('line',{x1:L,x2:W-R,y1:Y,y2:Y,stroke:'#eef0f4'},svg);
   el('text',{x:L-4,y:Y+4,'text-anchor':'end','font-size':F,fill:'#5b6475'},svg).textContent=fmt(state.log?Math.pow(10,t):t);});
  if(R>20)ticks(ry2[0],ry2[1],5).forEach(function(t){var Y=T+(1-(t-ry2[0])/(ry2[1]-ry2[0]))*(H-T-B);
   el('text',{x:W-R+4,y:Y+4,'font-size':F,fill:'#8250df'},svg).textContent=fmt(t);});
  if(spec.xlabel)el('text',{x:(L+W-R)/2,y:H-6,'text-anchor':'middle','font-size':F+1,fill:'#1d2330'},svg).textContent=spec.xlabel;
  if(spec.ylabel)el('text',{x:12,y:(T+H-B)/2,'text-anchor':'middle','font-size':F+1,transform:'rotate(-90 12 '+((T+H-B)/2)+')'},svg).textContent=spec.ylabel+(state.log?' (log)':'');
  if(spec.y2label)el('text',{x:W-8,y:(T+H-B)/2,'text-anchor':'middle','font-size':F+1,fill:'#8250df',transform:'rotate(90 '+(W-8)+' '+((T+H-B)/2)+')'},svg).textContent=spec.y2label;
  var clip='c'+Math.random().toString(36).slice(2);var cp=el('clipPath',{id:clip},svg);el('rect',{x:L,y:T,width:W-L-R,height:H-T-B},cp);
  var g=el('g',{'clip-path':'url(#'+clip+')'},svg);
  (spec.hlines||[]).forEach(function(h){if(!isFinite(h.y)||(state.log&&h.y<=0))return;var Y=py(h.y,'y');
   el('line',{x1:L,x2:W-R,y1:Y,y2:Y,stroke:'#9a6700','stroke-dasharray':'6 4',class:'hline'},g);
   el('text',{x:W-R-4,y:Y-4,'text-anchor':'end','font-size':F,fill:'#9a6700'},g).textContent=h.label;});
  (spec.vlines||[]).forEach(function(v,i){var X=px(v.x);el('line',{x1:X,x2:X,y1:T,y2:H-B,stroke:'#d1242f','stroke-dasharray':'3 3',class:'marker'},g);
   el('text',{x:X+3,y:T+12+12*(i%4),'font-size':F,fill:'#d1242f'},g).textContent=v.label;});
  spec.series.forEach(function(s,i){var color=s.color||palette[i%palette.length];var axis=s.axis||'y';var d='',n=0,pen=false;
   s.points.forEach(function(p){var y=p[1];if(y===null||!isFinite(y)||(state.log&&axis==='y'&&y<=0)||(spec.logx&&p[0]<=0)){pen=false;return;}
    var X=px(p[0]),Y=py(y,axis);n++;
    if(s.dots){el('circle',{cx:X,cy:Y,r:3,fill:color},g);}else{d+=(pen?'L':'M')+X.toFixed(1)+' '+Y.toFixed(1);pen=true;}});
   if(!s.dots)el('path',{d:d,fill:'none',stroke:color,'stroke-width':s.width||1.5,'stroke-dasharray':s.dash||'',class:'series','data-points':String(s.points.length),'data-name':s.name},g);
   else el('g',{class:'series','data-points':String(s.points.length),'data-name':s.name},g);});
  var lg=el('g',{class:'legend'},svg);var lx=L,ly=6;spec.series.forEach(function(s,i){var color=s.color||palette[i%palette.length];var w=24+Math.min(s.name.length,48)*F*0.57;
   if(lx+w>W-R&&lx>L){lx=L;ly+=13;}
   el('rect',{x:lx,y:ly,width:10,height:10,fill:color},lg);var t=el('text',{x:lx+14,y:ly+9,'font-size':F},lg);t.textContent=s.name.length>48?s.name.slice(0,47)+'…':s.name;lx+=w;});
  // Pointer events: a mouse, a pen or a finger (a horizontal drag zooms, a tap shows the values;
  // touch-action pan-y leaves vertical swipes to scroll the page).
  var sel=null,start=null;
  function at(ev){var r=svg.getBoundingClientRect();return (ev.clientX-r.left)/r.width*W;}
  function hover(ev){var r=svg.getBoundingClientRect();var X=at(ev);
   if(X<L||X>W-R){tip.style.display='none';return;}var xv=xmin+(X-L)/(W-L-R)*(xmax-xmin);var lines=[];
   spec.series.forEach(function(s){var best=null,bd=Infinity;s.points.forEach(function(p){var dd=Math.abs(tx(p[0])-xv);if(dd<bd){bd=dd;best=p;}});
    if(best)lines.push(s.name+': '+fmt(best[1])+' @ '+fmt(best[0]));});
   tip.textContent=lines.join('\n');tip.style.display='block';tip.style.left=Math.max(0,Math.min(ev.clientX-r.left+12,r.width-160))+'px';tip.style.top=(ev.clientY-r.top+12)+'px';}
  svg.onpointerdown=function(ev){if(ev.button>0)return;start=at(ev);sel=el('rect',{x:start,y:T,width:0,height:H-T-B,fill:'rgba(47,111,235,.15)'},svg);
   try{svg.setPointerCapture(ev.pointerId);}catch(e){}};
  svg.onpointermove=function(ev){if(sel){var X=at(ev);sel.setAttribute('x',Math.min(start,X));sel.setAttribute('width',Math.abs(X-start));return;}hover(ev);};
  svg.onpointerleave=function(){if(!sel)tip.style.display='none';};
  svg.onpointercancel=function(){if(sel){svg.removeChild(sel);sel=null;}};
  svg.onpointerup=function(ev){if(!sel)return;var X=at(ev);var a=Math.min(start,X),b=Math.max(start,X);
   svg.removeChild(sel);sel=null;if(b-a<5){hover(ev);return;}var x0=xmin+(a-L)/(W-L-R)*(xmax-xmin),x1=xmin+(b-L)/(W-L-R)*(xmax-xmin);state.x0=x0;state.x1=x1;draw();};
  svg.ondblclick=function(){state.x0=state.x1=null;draw();};
 }
 draw();redraws.push(draw);
}

// Heatmap. spec: {rows:[names], cols:[steps], values:[[row][col]], log, highlight:[row indices], label}
function heatmap(host,spec){
 var rows=spec.rows.length,cols=spec.cols.length;host.setAttribute('data-rows',String(rows));host.setAttribute('data-cols',String(cols));
 if(!rows||!cols){host.textContent='no probes';return;}
 var svg=el('svg',{role:'img'},host);svg.style.touchAction='pan-y';var tip=document.createElement('div');tip.className='tip';host.appendChild(tip);
 function draw(){
 while(svg.firstChild)svg.removeChild(svg.firstChild);
 // Drawn at its box's width (a phone's included): the layer names keep up to 230 units of it
 // (cut from the left, the full name on hover), the cells share the rest.
 var W=chartWidth(host),L=Math.min(230,Math.round(W*0.36)),T=6,cw=(W-L-10)/cols,ch=16,H=T+ch*rows+24,F=W<500?12:11,chars=Math.floor((L-8)/(F*0.57));
 svg.setAttribute('viewBox','0 0 '+W+' '+H);
 var lo=Infinity,hi=-Infinity;spec.values.forEach(function(r){r.forEach(function(v){if(v===null||!isFinite(v))return;if(spec.log&&v<=0)return;var w=spec.log?Math.log10(v):v;lo=Math.min(lo,w);hi=Math.max(hi,w);});});
 if(!isFinite(lo)){lo=0;hi=1;}if(hi===lo)hi=lo+1;
 function color(v){if(v===null||!isFinite(v))return '#d1242f';if(spec.log&&v<=0)return '#f4f6f9';var t=((spec.log?Math.log10(v):v)-lo)/(hi-lo);
  var r=Math.round(247-t*(247-20)),g=Math.round(251-t*(251-70)),b=Math.round(255-t*(255-140));return 'rgb('+r+','+g+','+b+')';}
 spec.rows.forEach(function(name,i){var hl=(spec.highlight||[]).indexOf(i)>=0;
  var label=el('text',{x:L-6,y:T+ch*i+12,'text-anchor':'end','font-size':F,'font-weight':hl?'700':'400',fill:hl?'#d1242f':'#1d2330'},svg);
  label.textContent=name.length>chars?'…'+name.slice(name.length-chars+1):name;el('title',{},label).textContent=name;
  for(var j=0;j<cols;j++)el('rect',{x:L+cw*j,y:T+ch*i,width:cw,height:ch-1,fill:color(spec.values[i][j]),'data-r':i,'data-c':j,class:'cell'},svg);
  if(hl)el('rect',{x:L-1,y:T+ch*i-1,width:cw*cols+2,height:ch+1,fill:'none',stroke:'#d1242f','stroke-width':1.5,class:'highlight'},svg);});
 el('text',{x:W<600?4:L,y:H-6,'font-size':F,fill:'#5b6475'},svg).textContent='step '+spec.cols[0]+' … '+spec.cols[cols-1]+'  ('+(spec.log?'log colour':'linear colour')+', '+fmt(spec.log?Math.pow(10,lo):lo)+' → '+fmt(spec.log?Math.pow(10,hi):hi)+')';
 }
 draw();redraws.push(draw);
 svg.onpointermove=svg.onpointerdown=function(ev){var t=ev.target;if(!t.getAttribute||t.getAttribute('class')!=='cell'){tip.style.display='none';return;}
  var i=+t.getAttribute('data-r'),j=+t.getAttribute('data-c');var r=svg.getBoundingClientRect();
  tip.textContent=spec.rows[i]+'\nstep '+spec.cols[j]+': '+fmt(spec.values[i][j]);tip.style.display='block';
  tip.style.left=Math.max(0,Math.min(ev.clientX-r.left+12,r.width-160))+'px';tip.style.top=(ev.clientY-r.top+12)+'px';};
 svg.onpointerleave=function(){tip.style.display='none';};
}

// Bar chart. spec: {labels:[...], series:[{name, values:[...]}]}
function bars(host,spec,again){
 while(host.firstChild)host.removeChild(host.firstChild);if(!again)redraws.push(function(){bars(host,spec,true);});
 var n=spec.labels.length,k=spec.series.length;host.setAttribute('data-series',String(k));host.setAttribute('data-points',String(n));
 var W=chartWidth(host),H=220,L=50,B=30,T=10,bw=(W-L-10)/Math.max(n,1),F=W<500?12:11,chars=Math.max(2,Math.floor(bw/(F*0.57)));var max=0;spec.series.forEach(function(s){s.values.forEach(function(v){max=Math.max(max,v);});});if(!max)max=1;
 var svg=el('svg',{viewBox:'0 0 '+W+' '+(H+16),role:'img'},host);T+=16;H+=16;
 var lx=L;spec.series.forEach(function(s,j){el('rect',{x:lx,y:2,width:10,height:10,fill:palette[j%palette.length]},svg);
  el('text',{x:lx+14,y:11,'font-size':F},svg).textContent=s.name;lx+=30+s.name.length*F*0.57;});
 ticks(0,max,4).forEach(function(t){var Y=T+(1-t/max)*(H-T-B);el('line',{x1:L,x2:W-10,y1:Y,y2:Y,stroke:'#eef0f4'},svg);el('text',{x:L-4,y:Y+4,'text-anchor':'end','font-size':F,fill:'#5b6475'},svg).textContent=fmt(t);});
 spec.labels.forEach(function(lab,i){spec.series.forEach(function(s,j){var v=s.values[i]||0;var h=v/max*(H-T-B);
  var r=el('rect',{x:L+bw*i+j*bw*0.8/k+bw*0.1,y:H-B-h,width:bw*0.8/k,height:h,fill:palette[j%palette.length],class:'bar'},svg);
  el('title',{},r).textContent=s.name+' '+lab+': '+v;});
  var t=el('text',{x:L+bw*(i+0.5),y:H-B+14,'text-anchor':'middle','font-size':F},svg);t.textContent=lab.length>chars?lab.slice(0,chars-1)+'…':lab;
  el('title',{},t).textContent=lab;});
}

try{
 (data.charts||[]).forEach(function(c){var host=document.getElementById(c.id);if(!host){fail('missing chart host '+c.id);return;}
  if(c.type==='line')lineChart(host,c);else if(c.type==='heatmap')heatmap(host,c);else if(c.type==='bars')bars(host,c);});
}catch(e){fail('chart error: '+e.message);}
Array.prototype.forEach.call(document.querySelectorAll('button.copy'),function(b){b.onclick=function(){
 var text=b.getAttribute('data-text');if(navigator.clipboard&&navigator.clipboard.writeText){navigator.clipboard.writeText(text).then(function(){b.textContent='copied';},function(){b.textContent='select it';});}
 else{b.textContent='select it';}};});
// For tests and narrow screens: does the page fit the viewport's width (tables and code scroll
// inside their own boxes)? The smallest chart text as rendered (font size times the drawing's
// scale on screen), and table-header words broken across lines (there should be none).
function layoutChecks(){
 document.body.setAttribute('data-overflow',document.documentElement.scrollWidth>window.innerWidth+1?'1':'0');
 var min=Infinity;Array.prototype.forEach.call(document.querySelectorAll('.chart svg text,.heatmap svg text,.bars svg text'),function(t){
  var m=t.getScreenCTM&&t.getScreenCTM();if(!m)return;var f=parseFloat(window.getComputedStyle(t).fontSize)*Math.sqrt(m.a*m.a+m.b*m.b);if(f>0&&f<min)min=f;});
 document.body.setAttribute('data-min-chart-font',isFinite(min)?min.toFixed(1):'none');
 var split=0,range=document.createRange();Array.prototype.forEach.call(document.querySelectorAll('th'),function(th){
  var walk=document.createTreeWalker(th,NodeFilter.SHOW_TEXT),node,re=/\S+/g,w;while((node=walk.nextNode())){re.lastIndex=0;
   while((w=re.exec(node.data))){range.setStart(node,w.index);range.setEnd(node,w.index+w[0].length);if(range.getClientRects().length>1)split++;}}});
 document.body.setAttribute('data-split-words',String(split));
}
try{layoutChecks();}catch(e){fail('layout check: '+e.message);}
var lastWidth=window.innerWidth,pending=null;
window.addEventListener('resize',function(){if(window.innerWidth===lastWidth)return;lastWidth=window.innerWidth;clearTimeout(pending);
 pending=setTimeout(function(){try{redraws.forEach(function(f){f();});layoutChecks();}catch(e){fail('redraw: '+e.message);}},150);});
document.body.setAttribute('data-rendered','1');
})();
)JS";

}  // namespace lossdoctor::report::html_assets
