#include "dashboard.hpp"

namespace wslat::cli {
namespace {

// Everything the browser needs; the data goes where WSLAT_INITIAL is. Strings from the
// result (target, error examples) only ever reach the page through textContent.
constexpr const char* kPage = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wslat monitor</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:14px 24px;display:flex;gap:24px;align-items:center;flex-wrap:wrap}
header h1{font-size:18px;margin:0}
.muted{color:#8a93a6}
#verdict{font-weight:700;padding:4px 12px;border-radius:4px;background:#8a93a6;color:#fff}
#verdict.pass{background:#1f9d55}#verdict.fail,#verdict.error,#verdict.regression{background:#d64545}
main{padding:16px 24px}
#charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}
.chart{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:8px 12px}
.chart h2{font-size:14px;margin:0 0 4px}
svg text{font-size:11px;fill:#5b6478}
.p50{fill:none;stroke:#2f6fde;stroke-width:1.6}.p95{fill:none;stroke:#e8870e;stroke-width:1.6}
.threshold{stroke:#d64545;stroke-dasharray:6 4;stroke-width:1.2}.failed{fill:#d64545}.breached{fill:#e8b10e}
.legend span{display:inline-block;margin-right:12px}.sw{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:4px}
table{border-collapse:collapse;background:#fff;width:100%}td,th{border-bottom:1px solid #e3e6ec;padding:4px 8px;text-align:left;vertical-align:top}
#summary{display:grid;grid-template-columns:1fr 2fr;gap:16px;margin-bottom:12px}
section{margin-top:4px}h3{font-size:15px;margin:0 0 8px}#window-title{margin-top:14px}
.legend{margin:8px 0}
.ok{color:#1f9d55}.bad{color:#d64545}
#targets{margin-bottom:8px}#targets a{margin-right:14px;color:#2f6fde}#targets a.current{font-weight:700;color:#1d2330;text-decoration:none}
</style></head><body>
<header><h1>wslat monitor: <span id="scenario"></span></h1><span id="target" class="muted"></span>
<span id="verdict">no probe yet</span><span id="status" class="muted"></span></header>
<main>
<nav id="targets"></nav>
<div id="summary"><section><h3>Thresholds (last probe)</h3><table id="thresholds"><tbody></tbody></table>
<h3 id="window-title">Rolling window</h3><table id="window"><thead><tr><th>phase</th><th>p50</th><th>p95</th><th>samples</th></tr></thead><tbody></tbody></table></section>
<section><h3>Latest errors</h3><table id="errors"><thead><tr><th>time</th><th>category</th><th>count</th><th>probes</th><th>example</th></tr></thead><tbody></tbody></table></section></div>
<div class="legend muted"><span><i class="sw" style="background:#2f6fde"></i>p50</span><span><i class="sw" style="background:#e8870e"></i>p95</span><span><i class="sw" style="background:#d64545"></i>threshold (dashed); marks at the bottom: failed probe (red), threshold breached or regression (yellow)</span></div>
<div id="charts"></div>
</main>
<script>
"use strict";
const NS="http://www.w3.org/2000/svg";
let data=/*WSLAT_INITIAL*/null;
function el(tag,attrs,text){const e=document.createElementNS(NS,tag);for(const k in attrs)e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=text;return e;}
function hms(t){return new Date(t*1000).toLocaleTimeString([], {hour12:false});}
function ms(v){return v>=1000?(v/1000).toFixed(2)+" s":v>=1?v.toFixed(1)+" ms":(v*1000).toFixed(0)+" us";}
function row(tbody,cells,cls){const tr=document.createElement("tr");cells.forEach((c,i)=>{const td=document.createElement("td");td.textContent=c;if(cls&&cls[i])td.className=cls[i];tr.appendChild(td);});tbody.appendChild(tr);}
function chart(phase,d,t0,t1){
  const W=500,H=170,L=56,R=8,T=8,B=22,w=W-L-R,h=H-T-B;
  const lines=d.thresholds.filter(t=>t.metric===phase&&t.unit==="ms");
  let max=0;d.samples.forEach(s=>{const p=s.phases[phase];if(p)max=Math.max(max,p[1]);});
  // A threshold far above the data would flatten it: such a line is drawn at the top, marked.
  lines.forEach(t=>{if(max===0||t.limit<=3*max)max=Math.max(max,t.limit);});
  max=max>0?max*1.1:1;
  const x=t=>L+(t1>t0?(t-t0)/(t1-t0):1)*w, y=v=>T+h-(v/max)*h;
  const svg=el("svg",{viewBox:"0 0 "+W+" "+H,width:"100%","data-phase":phase});
  svg.appendChild(el("line",{x1:L,y1:T+h,x2:L+w,y2:T+h,stroke:"#c5cad3"}));
  svg.appendChild(el("line",{x1:L,y1:T,x2:L,y2:T+h,stroke:"#c5cad3"}));
  svg.appendChild(el("text",{x:L-4,y:T+8,"text-anchor":"end"},ms(max)));
  svg.appendChild(el("text",{x:L-4,y:T+h,"text-anchor":"end"},"0"));
  svg.appendChild(el("text",{x:L,y:H-6},hms(t0)));
  svg.appendChild(el("text",{x:L+w,y:H-6,"text-anchor":"end"},hms(t1)));
  // A line per run of probes with samples of this phase: an outage breaks it, never bridges it.
  for(const k of [0,1]){
    let pts=[];const flush=()=>{if(pts.length)svg.appendChild(el("polyline",{points:pts.join(" "),class:k?"p95":"p50"}));pts=[];};
    d.samples.forEach(s=>{const p=s.phases[phase];if(!p){flush();return;}pts.push(x(s.t).toFixed(1)+","+y(p[k]).toFixed(1));});
    flush();
  }
  lines.forEach(t=>{const above=t.limit>max,ty=above?T:y(t.limit);
    svg.appendChild(el("line",{x1:L,x2:L+w,y1:ty,y2:ty,class:"threshold"}));
    svg.appendChild(el("text",{x:L+w-4,y:ty+(ty<T+14?12:-3),"text-anchor":"end",fill:"#d64545"},t.threshold+(above?" (above the scale)":"")));});
  d.samples.filter(s=>!s.ok||s.verdict!=="pass").forEach(s=>svg.appendChild(el("rect",{x:x(s.t)-1.5,y:T+h-6,width:3,height:6,class:s.ok?"breached":"failed"})));
  return svg;
}
function render(d){
  data=d;
  document.getElementById("scenario").textContent=d.scenario||"";
  document.getElementById("target").textContent=(d.target||"")+(d.profile?" ("+d.profile+")":"");
  const last=d.samples[d.samples.length-1], v=document.getElementById("verdict");
  v.textContent=last?(last.verdict||"?").toUpperCase()+(last.ok?"":" ("+last.failed+" of "+last.attempted+" failed)"):"no probe yet";
  v.className=last?last.verdict:"";
  document.getElementById("status").textContent=d.probes+" probes, every "+d.every_s+" s"+(last?", last at "+hms(last.t):"");
  const now=Date.now()/1000, t1=last?Math.max(last.t,now):now, t0=Math.max(t1-d.window_s, d.samples.length?d.samples[0].t:t1-d.window_s);
  const charts=document.getElementById("charts");charts.textContent="";
  d.phases.forEach(p=>{const c=document.createElement("div");c.className="chart";const h=document.createElement("h2");h.textContent=p;c.appendChild(h);c.appendChild(chart(p,d,t0,t1));charts.appendChild(c);});
  const tb=document.querySelector("#thresholds tbody");tb.textContent="";
  d.thresholds.forEach(t=>row(tb,[t.pass?"\u2713":"\u2717",t.metric,t.threshold],[t.pass?"ok":"bad"]));
  const nav=document.getElementById("targets");nav.textContent="";
  if(d.targets&&d.targets.length>1)d.targets.forEach(t=>{const a=document.createElement("a");a.textContent=t;a.href="?target="+encodeURIComponent(t);if(t===d.target)a.className="current";nav.appendChild(a);});
  const wb=document.querySelector("#window tbody");wb.textContent="";
  if(d.window){document.getElementById("window-title").textContent="Last "+(d.window.seconds>=120?(d.window.seconds/60)+" min":d.window.seconds+" s")+" ("+d.window.probes+" probes, "+d.window.failed_probes+" failed)";
    d.phases.forEach(p=>{const w=d.window.phases[p];if(w)row(wb,[p,ms(w.p50_ms),ms(w.p95_ms),String(w.count)]);});}
  const eb=document.querySelector("#errors tbody");eb.textContent="";
  if(!d.errors.length)row(eb,["","none","","",""]);
  d.errors.forEach(e=>row(eb,[hms(e.t)+(e.t_last>e.t?" \u2013 "+hms(e.t_last):""),e.category,String(e.count),String(e.probes),e.example],[null,"bad"]));
}
// Live: the monitor pushes every probe (server-sent events at api/events; the first event is the
// whole of api/samples). Without them (an old browser, too many live clients: 503) it polls.
let pushed=0;
function merge(ev){
  if(!data){data=ev;return;}
  if(ev.target!==data.target)return;  // another target's probe (this page shows one)
  const s=ev.samples[0], last=data.samples[data.samples.length-1];
  if(s&&(!last||s.t>last.t))data.samples.push(s);  // a probe the snapshot already had is skipped
  const t0=(s?s.t:0)-ev.window_s;
  while(data.samples.length&&data.samples[0].t<t0)data.samples.shift();
  for(const k of ["scenario","profile","every_s","window_s","probes","phases","thresholds","errors","targets","window"])data[k]=ev[k];
}
function live(n){pushed+=n;document.body.setAttribute("data-pushed",String(pushed));}
async function poll(){
  try{const r=await fetch("api/samples"+location.search,{cache:"no-store"});if(r.ok)render(await r.json());}catch(e){document.getElementById("status").textContent="monitor unreachable";}
  setTimeout(poll,Math.max(1000,Math.min(5000,(data?data.every_s:5)*1000)));
}
if(data)render(data);
if(window.EventSource){
  const es=new EventSource("api/events"+location.search);let opened=false;
  es.onopen=()=>{opened=true;};
  es.addEventListener("samples",e=>{render(JSON.parse(e.data));live(0);});
  es.addEventListener("probe",e=>{merge(JSON.parse(e.data));render(data);live(1);});
  es.onerror=()=>{if(!opened){es.close();poll();}else document.getElementById("status").textContent="monitor unreachable, reconnecting";};
}else poll();
</script></body></html>
)HTML";

}  // namespace

std::string dashboard_page(const nlohmann::json& initial) {
  // Inside <script>, "</script" or "<!--" would change how the page parses: every '<' (only
  // ever inside a JSON string) is written as \u003c.
  std::string safe;
  for (const char c : initial.dump()) {
    if (c == '<') {
      safe += "\\u003c";
    } else {
      safe += c;
    }
  }
  std::string page = kPage;
  const std::string marker = "/*WSLAT_INITIAL*/null";
  page.replace(page.find(marker), marker.size(), safe);
  return page;
}

}  // namespace wslat::cli
