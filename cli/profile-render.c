/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Renderers of an energy profile: a self-contained interactive SVG flame
 * graph (plain or differential) and JSON. */

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli-util.h"
#include "profile-render.h"
#include "util.h"

#define SVG_WIDTH 1200
#define SVG_FRAME_H 17
#define SVG_PAD_TOP 60
#define SVG_PAD_BOTTOM 30
#define SVG_PAD_X 10
#define SVG_MIN_FRACTION 0.0002     /* frames narrower than this (0.24 px) are left out */
#define JSON_FUNCTIONS_MAX 200

static void xml_escape(FILE *f, const char *s) {
        for (; *s; s++)
                switch (*s) {
                case '&':
                        fputs("&amp;", f);
                        break;
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                case '\'':
                        fputs("&#39;", f);
                        break;
                default:
                        if ((unsigned char) *s >= 0x20)
                                fputc(*s, f);
                }
}

static unsigned tree_depth(const ProfileNode *n) {
        unsigned d = 0;
        for (size_t i = 0; i < n->n_children; i++) {
                unsigned c = tree_depth(n->children[i]);
                if (c > d)
                        d = c;
        }
        return d + 1;
}

static uint32_t name_hash(const char *s) {
        uint32_t h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 16777619u;
        return h;
}

static void frame_colour(const ProfileNode *n, bool diff, double max_change, char *buf, size_t size) {
        if (diff) {
                double change = n->uj - n->before_uj, t = max_change > 0 ? fmin(fabs(change) / max_change, 1) : 0;
                int c = (int) lround(255 - 190 * t);
                if (change > 0)
                        snprintf(buf, size, "rgb(255,%d,%d)", c, c);
                else
                        snprintf(buf, size, "rgb(%d,%d,255)", c, c);
                return;
        }
        uint32_t h = name_hash(n->name);
        double a = (h & 0xff) / 255.0, b = ((h >> 8) & 0xff) / 255.0;
        if (strncmp(n->name, "[unknown]", 9) == 0 || n->name[0] == '[')
                snprintf(buf, size, "rgb(%d,%d,%d)", 180 + (int) (30 * a), 180 + (int) (30 * a), 180 + (int) (30 * a));
        else if (endswith(n->name, "_[k]"))
                snprintf(buf, size, "rgb(%d,%d,%d)", 230 + (int) (25 * a), 140 + (int) (60 * b), 40);
        else
                snprintf(buf, size, "rgb(%d,%d,%d)", 205 + (int) (50 * b), (int) (230 * a), (int) (55 * b));
}

static void max_change(const ProfileNode *n, double *m) {
        double c = fabs(n->uj - n->before_uj);
        if (c > *m)
                *m = c;
        for (size_t i = 0; i < n->n_children; i++)
                max_change(n->children[i], m);
}

typedef struct SvgState {
        FILE *f;
        double total;
        unsigned depth;
        bool diff;
        double max_change;
        unsigned id;
} SvgState;

static void svg_frame(SvgState *s, const ProfileNode *n, double x, unsigned level) {
        double w = s->total > 0 ? n->uj / s->total : 0, cx = x;
        double px = SVG_PAD_X + x * (SVG_WIDTH - 2 * SVG_PAD_X), pw = w * (SVG_WIDTH - 2 * SVG_PAD_X);
        double y = SVG_PAD_TOP + (double) (s->depth - 1 - level) * SVG_FRAME_H;
        char colour[64], e[64];
        int chars;

        if (w < SVG_MIN_FRACTION)
                return;
        frame_colour(n, s->diff, s->max_change, colour, sizeof(colour));
        fprintf(s->f, "<g class=\"f\" data-x=\"%.9f\" data-w=\"%.9f\" data-d=\"%u\" data-j=\"%.9g\" data-s=\"%llu\"",
                x, w, level, n->uj / 1e6, (unsigned long long) n->samples);
        if (s->diff)
                fprintf(s->f, " data-b=\"%.9g\"", n->before_uj / 1e6);
        fputs("><title>", s->f);
        xml_escape(s->f, n->name);
        fprintf(s->f, " (%s, %.2f%%", format_energy(n->uj / 1e6, false, e, sizeof(e)), 100 * w);
        if (n->samples)
                fprintf(s->f, ", %llu samples", (unsigned long long) n->samples);
        if (s->diff)
                fprintf(s->f, "; before %s, %+.1f%%", format_energy(n->before_uj / 1e6, false, e, sizeof(e)),
                        n->before_uj > 0 ? 100 * (n->uj / n->before_uj - 1) : 100.0);
        fprintf(s->f, ")</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" rx=\"2\"/>", px, y,
                pw, SVG_FRAME_H - 1, colour);
        fprintf(s->f, "<text x=\"%.2f\" y=\"%.1f\">", px + 3, y + SVG_FRAME_H - 5);
        chars = (int) ((pw - 6) / 7);
        if (chars >= 3) {
                size_t len = strlen(n->name);
                if ((int) len <= chars)
                        xml_escape(s->f, n->name);
                else {
                        _cleanup_free_ char *t = strndup(n->name, (size_t) (chars - 2));
                        if (t) {
                                xml_escape(s->f, t);
                                fputs("..", s->f);
                        }
                }
        }
        fputs("</text></g>\n", s->f);
        for (size_t i = 0; i < n->n_children; i++) {
                svg_frame(s, n->children[i], cx, level + 1);
                cx += s->total > 0 ? n->children[i]->uj / s->total : 0;
        }
}

/* The viewer: zoom, search, tooltips in the status line. Plain ES5, no
 * external resource. */
static const char svg_script[] =
        "<script type=\"text/ecmascript\"><![CDATA[\n"
        "'use strict';\n"
        "var W=" "1200" ",PAD=10,frames=[],status,matchedText,searchRe=null,zoomed=null;\n"
        "function fmtJ(j){if(j>=1e3)return (j/1e3).toPrecision(3)+' kJ';if(j>=1)return j.toPrecision(3)+' J';"
        "if(j>=1e-3)return (j*1e3).toPrecision(3)+' mJ';return (j*1e6).toPrecision(3)+' \\u00b5J';}\n"
        "function init(){status=document.getElementById('status');matchedText=document.getElementById('matched');\n"
        " var gs=document.getElementsByClassName('f');\n"
        " for(var i=0;i<gs.length;i++){var g=gs[i];var t=g.getElementsByTagName('title')[0].textContent;\n"
        "  var f={g:g,x:+g.getAttribute('data-x'),w:+g.getAttribute('data-w'),d:+g.getAttribute('data-d'),\n"
        "   j:+g.getAttribute('data-j'),s:+g.getAttribute('data-s'),name:t.replace(/ \\([^(]*\\)$/,''),title:t,\n"
        "   rect:g.getElementsByTagName('rect')[0],text:g.getElementsByTagName('text')[0]};\n"
        "  f.fill=f.rect.getAttribute('fill');frames.push(f);\n"
        "  g.addEventListener('click',(function(f){return function(){zoom(f);};})(f));\n"
        "  g.addEventListener('mouseover',(function(f){return function(){status.textContent=f.title;};})(f));\n"
        "  g.addEventListener('mouseout',function(){status.textContent=' ';});}\n"
        " document.getElementById('unzoom').addEventListener('click',function(){zoom(null);});\n"
        " document.getElementById('search').addEventListener('click',function(){\n"
        "  var re=prompt('Search frames (regular expression)',searchRe?searchRe.source:'');\n"
        "  if(re===null)return;search(re);});\n"
        " var h=decodeURIComponent(location.hash.substring(1)).split('&');\n"
        " for(var k=0;k<h.length;k++){var kv=h[k].split('=');\n"
        "  if(kv[0]==='search'&&kv[1])search(kv.slice(1).join('='));\n"
        "  if(kv[0]==='zoom'&&kv[1]){for(var q=0;q<frames.length;q++)\n"
        "   if(frames[q].name===kv[1]){zoom(frames[q]);break;}}}\n"
        "}\n"
        "function label(f,px){var n=Math.floor((px-6)/7);var s=f.name;\n"
        " f.text.textContent=n<3?'':(s.length<=n?s:s.substring(0,n-2)+'..');}\n"
        "function place(f,x,w){var px=PAD+x*(W-2*PAD),pw=w*(W-2*PAD);f.rect.setAttribute('x',px.toFixed(2));\n"
        " f.rect.setAttribute('width',Math.max(pw,0).toFixed(2));\n"
        " f.text.setAttribute('x',(px+3).toFixed(2));label(f,pw);}\n"
        "function zoom(z){zoomed=z;document.getElementById('unzoom').style.opacity=z?1:0.3;\n"
        " for(var i=0;i<frames.length;i++){var f=frames[i];\n"
        "  if(!z){f.g.style.display='';f.g.style.opacity=1;place(f,f.x,f.w);continue;}\n"
        "  var inside=f.x>=z.x-1e-12&&f.x+f.w<=z.x+z.w+1e-12;\n"
        "  if(f.d>=z.d&&inside){f.g.style.display='';f.g.style.opacity=1;place(f,(f.x-z.x)/z.w,f.w/z.w);}\n"
        "  else if(f.d<z.d&&f.x<=z.x+1e-12&&f.x+f.w>=z.x+z.w-1e-12){\n"
        "   f.g.style.display='';f.g.style.opacity=0.6;place(f,0,1);}\n"
        "  else f.g.style.display='none';}\n"
        " if(searchRe)search(searchRe.source);}\n"
        "function search(re){var r;try{r=new RegExp(re);}catch(e){matchedText.textContent='bad expression';return;}\n"
        " searchRe=r;var iv=[],joules=0,root=frames.length?frames[0]:null;\n"
        " for(var i=0;i<frames.length;i++){var f=frames[i];if(f.d===0)root=f;\n"
        "  if(r.test(f.name)){f.rect.setAttribute('fill','rgb(230,0,230)');iv.push([f.x,f.x+f.w,f.j,f.w]);}\n"
        "  else f.rect.setAttribute('fill',f.fill);}\n"
        " iv.sort(function(a,b){return a[0]-b[0]||b[1]-a[1];});var end=-1,share=0;\n"
        " for(var k=0;k<iv.length;k++){if(iv[k][0]>=end-1e-12){share+=iv[k][3];joules+=iv[k][2];end=iv[k][1];}}\n"
        " document.getElementById('search').textContent='Search: '+re;\n"
        " matchedText.textContent=iv.length?('Matched: '+(100*share).toFixed(1)+'% ('+fmtJ(joules)+')'):'No match';}\n"
        "window.addEventListener('load',init);\n"
        "]]></script>\n";

int profile_write_svg(const Profile *p, const Profile *before, const ProfileMeta *meta, FILE *f) {
        ProfileNode *root = profile_tree(p, before, before ? "all (after)" : "all");
        SvgState s = { .f = f, .diff = before != NULL };
        unsigned height;

        if (!root)
                return -ENOMEM;
        s.total = root->uj;
        s.depth = tree_depth(root);
        if (s.diff)
                max_change(root, &s.max_change);
        height = SVG_PAD_TOP + s.depth * SVG_FRAME_H + SVG_PAD_BOTTOM;

        fprintf(f, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                   "<svg version=\"1.1\" width=\"%d\" height=\"%u\" viewBox=\"0 0 %d %u\" "
                   "xmlns=\"http://www.w3.org/2000/svg\">\n",
                SVG_WIDTH, height, SVG_WIDTH, height);
        fputs("<style>text{font-family:Verdana,sans-serif;font-size:12px;fill:#000}"
              ".f text{pointer-events:none}.f:hover rect{stroke:#000;stroke-width:0.5}"
              "#title{font-size:17px;text-anchor:middle}#subtitle{font-size:12px;text-anchor:middle;fill:#555}"
              "#unzoom,#search{cursor:pointer}#unzoom{opacity:0.3}</style>\n",
              f);
        fputs(svg_script, f);
        fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%u\" fill=\"#f8f8f4\"/>\n", SVG_WIDTH, height);
        fprintf(f, "<text id=\"title\" x=\"%d\" y=\"22\">", SVG_WIDTH / 2);
        xml_escape(f, meta->diff ? "Energy flame graph: difference" : "Energy flame graph: ");
        if (!meta->diff)
                xml_escape(f, meta->title);
        fprintf(f, "</text>\n<text id=\"subtitle\" x=\"%d\" y=\"40\">", SVG_WIDTH / 2);
        xml_escape(f, meta->subtitle);
        fputs("</text>\n", f);
        fprintf(f, "<text id=\"unzoom\" x=\"%d\" y=\"22\">Reset zoom</text>\n", SVG_PAD_X);
        fprintf(f, "<text id=\"search\" x=\"%d\" y=\"22\" text-anchor=\"end\">Search</text>\n", SVG_WIDTH - SVG_PAD_X);
        fprintf(f, "<text id=\"matched\" x=\"%d\" y=\"%u\" text-anchor=\"end\"> </text>\n", SVG_WIDTH - SVG_PAD_X,
                height - 10);
        fprintf(f, "<text id=\"status\" x=\"%d\" y=\"%u\"> </text>\n", SVG_PAD_X, height - 10);
        svg_frame(&s, root, 0, 0);
        fputs("</svg>\n", f);
        profile_node_free(root);
        return fflush(f) != 0 || ferror(f) ? -EIO : 0;
}

/* ---- JSON -------------------------------------------------------------- */

static json_object *json_tree(const ProfileNode *n, double total, bool diff) {
        json_object *o = json_object_new_object(), *a;

        json_object_object_add(o, "name", json_object_new_string(n->name));
        json_object_object_add(o, "joules", json_double_exact(n->uj / 1e6));
        json_object_object_add(o, "self_joules", json_double_exact(n->self_uj / 1e6));
        json_object_object_add(o, "samples", json_object_new_int64((int64_t) n->samples));
        json_object_object_add(o, "share", json_double_exact(total > 0 ? n->uj / total : 0));
        if (diff)
                json_object_object_add(o, "before_joules", json_double_exact(n->before_uj / 1e6));
        if (n->n_children > 0) {
                a = json_object_new_array();
                for (size_t i = 0; i < n->n_children; i++)
                        json_object_array_add(a, json_tree(n->children[i], total, diff));
                json_object_object_add(o, "children", a);
        }
        return o;
}

static int change_cmp(const void *a, const void *b) {
        const ProfileFunction *x = a, *y = b;
        double dx = fabs(x->total_uj - x->before_total_uj), dy = fabs(y->total_uj - y->before_total_uj);
        if (dx != dy)
                return dx > dy ? -1 : 1;
        return strcmp(x->name, y->name);
}

int profile_write_json(const Profile *p, const Profile *before, const ProfileMeta *meta, FILE *f) {
        static const char *const stat_names[_PROFILE_STAT_MAX] = {
                [PROFILE_STAT_SAMPLES] = "samples",
                [PROFILE_STAT_USER_LOST] = "user_stacks_lost",
                [PROFILE_STAT_KERN_LOST] = "kernel_stacks_lost",
                [PROFILE_STAT_USER_NONE] = "user_stacks_empty",
                [PROFILE_STAT_KEYS_FULL] = "samples_dropped",
                [PROFILE_STAT_EVENTS_LOST] = "events_lost",
        };
        json_object *o = json_object_new_object(), *a, *t;
        ProfileFunction *fn = NULL;
        size_t n = 0;
        double total = profile_total_uj(p);
        ProfileNode *root;
        int r;

        json_object_object_add(o, "title", json_object_new_string(meta->title));
        json_object_object_add(o, "total_joules", json_double_exact(total / 1e6));
        if (before)
                json_object_object_add(o, "before_total_joules", json_double_exact(profile_total_uj(before) / 1e6));
        else {
                json_object_object_add(o, "estimated", json_object_new_boolean(meta->estimated));
                json_object_object_add(o, "sources", json_object_new_string(meta->sources));
                json_object_object_add(o, "event", json_object_new_string(meta->event));
                json_object_object_add(o, "frequency_hz", json_object_new_int64(meta->frequency));
                json_object_object_add(o, "samples", json_object_new_int64((int64_t) meta->samples));
                json_object_object_add(o, "cpu_seconds", json_double_exact(meta->cpu_seconds));
                json_object_object_add(o, "wall_seconds", json_double_exact(meta->wall_seconds));
                json_object_object_add(o, "idle_joules_host", json_double_exact(meta->idle_host_uj / 1e6));
                json_object_object_add(o, "idle_joules_share", json_double_exact(meta->idle_share_uj / 1e6));
                t = json_object_new_object();
                for (int i = 0; i < _PROFILE_STAT_MAX; i++)
                        json_object_object_add(t, stat_names[i], json_object_new_int64((int64_t) meta->stats[i]));
                json_object_object_add(t, "stacks_truncated", json_object_new_int64((int64_t) meta->truncated));
                json_object_object_add(o, "counters", t);
        }

        r = profile_functions(p, before, 0, &fn, &n);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        if (before && n > 0)
                qsort(fn, n, sizeof(ProfileFunction), change_cmp);
        a = json_object_new_array();
        for (size_t i = 0; i < n && i < JSON_FUNCTIONS_MAX; i++) {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "name", json_object_new_string(fn[i].name));
                json_object_object_add(e, "total_joules", json_double_exact(fn[i].total_uj / 1e6));
                json_object_object_add(e, "self_joules", json_double_exact(fn[i].self_uj / 1e6));
                json_object_object_add(e, "total_share", json_double_exact(total > 0 ? fn[i].total_uj / total : 0));
                json_object_object_add(e, "self_share", json_double_exact(total > 0 ? fn[i].self_uj / total : 0));
                if (before) {
                        double b = fn[i].before_total_uj;
                        json_object_object_add(e, "before_total_joules", json_double_exact(b / 1e6));
                        json_object_object_add(e, "before_self_joules", json_double_exact(fn[i].before_self_uj / 1e6));
                        json_object_object_add(e, "change_joules", json_double_exact((fn[i].total_uj - b) / 1e6));
                        json_object_object_add(e, "ratio", b > 0 ? json_double_exact(fn[i].total_uj / b) : NULL);
                } else {
                        json_object_object_add(e, "total_samples",
                                               json_object_new_int64((int64_t) fn[i].total_samples));
                        json_object_object_add(e, "self_samples", json_object_new_int64((int64_t) fn[i].self_samples));
                }
                json_object_array_add(a, e);
        }
        profile_functions_free(fn, n);
        json_object_object_add(o, "functions", a);

        root = profile_tree(p, before, "all");
        if (!root) {
                json_object_put(o);
                return -ENOMEM;
        }
        json_object_object_add(o, "tree", json_tree(root, total, before != NULL));
        profile_node_free(root);

        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE), f);
        fputc('\n', f);
        json_object_put(o);
        return fflush(f) != 0 || ferror(f) ? -EIO : 0;
}
