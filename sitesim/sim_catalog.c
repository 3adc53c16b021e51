/* sim_catalog.c -- the deterministic book catalogue: ids, missing and malformed books, JSON. */
#include "sim_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_rng.h"

#define NELEM(a)   (sizeof(a) / sizeof((a)[0]))
#define PICK(r, a) ((a)[sim_rng_below((r), (uint32_t)NELEM(a))])

/* ---- ids: a 4-round Feistel permutation of [0, 2^26), keyed by the seed ---- */

#define ID_BASE      1000000u
#define ID_HALF_BITS 13
#define ID_HALF_MASK ((1u << ID_HALF_BITS) - 1)
#define ID_DOMAIN    (1u << (2 * ID_HALF_BITS))

static uint32_t feistel_f(uint64_t seed, int round, uint32_t x) {
    return (uint32_t)(sim_hash2(seed ^ 0x1d5e7a3c9b2f4e61ULL, ((uint64_t)round << 32) | x) & ID_HALF_MASK);
}

static uint32_t perm_fwd(uint64_t seed, uint32_t x) {
    uint32_t l = x >> ID_HALF_BITS, r = x & ID_HALF_MASK;
    for (int k = 0; k < 4; k++) {
        uint32_t t = l ^ feistel_f(seed, k, r);
        l = r;
        r = t;
    }
    return (l << ID_HALF_BITS) | r;
}

static uint32_t perm_inv(uint64_t seed, uint32_t y) {
    uint32_t l = y >> ID_HALF_BITS, r = y & ID_HALF_MASK;
    for (int k = 3; k >= 0; k--) {
        uint32_t t = r ^ feistel_f(seed, k, l);
        r = l;
        l = t;
    }
    return (l << ID_HALF_BITS) | r;
}

uint32_t sim_catalog_id(const sim_catalog *c, long i) {
    return ID_BASE + perm_fwd(c->seed, (uint32_t)i);
}

long sim_catalog_find(const sim_catalog *c, const char *s, size_t n) {
    if (n < 7 || n > 8 || s[0] == '0')
        return -1;
    uint32_t v = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return -1;
        v = v * 10 + (uint32_t)(s[k] - '0');
    }
    if (v < ID_BASE || v - ID_BASE >= ID_DOMAIN)
        return -1;
    uint32_t i = perm_inv(c->seed, v - ID_BASE);
    return (long)i < c->nbooks ? (long)i : -1;
}

int sim_catalog_is_missing(const sim_catalog *c, long i) {
    return (c->flags[i] & SIM_BOOK_MISSING) != 0;
}

int sim_catalog_is_malformed(const sim_catalog *c, long i) {
    return (c->flags[i] & SIM_BOOK_MALFORMED) != 0;
}

int sim_catalog_init(sim_catalog *c, uint64_t seed, long nbooks, double malformed_rate,
                     char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    if (nbooks < 0 || nbooks > SIM_CATALOG_MAX_BOOKS) {
        snprintf(err, errlen, "books must be in [0, %ld]", SIM_CATALOG_MAX_BOOKS);
        return -1;
    }
    if (!(malformed_rate >= 0.0 && malformed_rate <= 1.0)) {
        snprintf(err, errlen, "malformed rate must be in [0, 1]");
        return -1;
    }
    c->seed = seed;
    c->nbooks = nbooks;
    c->malformed_rate = malformed_rate;
    c->flags = calloc((size_t)nbooks + 1, 1);
    if (c->flags == NULL) {
        snprintf(err, errlen, "out of memory for %ld books", nbooks);
        return -1;
    }
    if (nbooks <= SIM_CATALOG_CACHE_MAX_BOOKS) {
        c->cache = calloc(1, sizeof *c->cache);
        if (c->cache) {
            c->cache->items = calloc((size_t)nbooks + 1, sizeof *c->cache->items);
            c->cache->details = calloc((size_t)nbooks + 1, sizeof *c->cache->details);
            c->cache->budget = SIM_CATALOG_CACHE_BUDGET;
        }
        if (c->cache == NULL || c->cache->items == NULL || c->cache->details == NULL) {
            snprintf(err, errlen, "out of memory for the cache of %ld books", nbooks);
            sim_catalog_free(c);
            return -1;
        }
    }
    /* Missing: exactly nbooks / 300 books, drawn by the seed. */
    long want = nbooks / SIM_CATALOG_MISSING_EVERY;
    sim_rng r;
    sim_rng_seed(&r, sim_hash2(seed, 0x6d697373696e67ULL));
    while (c->nmissing < want) {
        long i = (long)(sim_rng_next(&r) % (uint64_t)nbooks);
        if (c->flags[i] & SIM_BOOK_MISSING)
            continue;
        c->flags[i] |= SIM_BOOK_MISSING;
        c->nmissing++;
    }
    /* Malformed: hash(seed, id) below the rate, among the books that exist. */
    for (long i = 0; malformed_rate > 0 && i < nbooks; i++) {
        if (c->flags[i] & SIM_BOOK_MISSING)
            continue;
        uint64_t h = sim_hash2(seed ^ 0x6d616c666f726dULL, sim_catalog_id(c, i));
        double u = (double)(h >> 11) * (1.0 / 9007199254740992.0);
        if (u < malformed_rate) {
            c->flags[i] |= SIM_BOOK_MALFORMED;
            c->nmalformed++;
        }
    }
    return 0;
}

void sim_catalog_free(sim_catalog *c) {
    if (c->cache) {
        for (long i = 0; i < c->nbooks; i++) {
            if (c->cache->items)
                free(c->cache->items[i].p);
            if (c->cache->details)
                free(c->cache->details[i].p);
        }
        free(c->cache->items);
        free(c->cache->details);
        free(c->cache);
        c->cache = NULL;
    }
    free(c->flags);
    c->flags = NULL;
}

/* Appends the cached body if there is one. Returns 1 when it did. */
static int cache_get(const struct sim_cached *e, sim_buf *b) {
    if (e->p == NULL)
        return 0;
    sim_buf_add(b, e->p, e->len);
    return 1;
}

/* Keeps b[start..len) as the cached body when the budget allows (a failed
 * allocation only means no caching). */
static void cache_put(sim_catalog_cache *cc, struct sim_cached *e, const sim_buf *b, size_t start) {
    size_t n = b->len - start;
    if (b->oom || cc->bytes + n > cc->budget)
        return;
    char *p = malloc(n ? n : 1);
    if (p == NULL)
        return;
    memcpy(p, b->p + start, n);
    e->p = p;
    e->len = n;
    cc->bytes += n;
}

/* ---- word pools ---- */

static const char *const k_titles[] = {
    "追风筝的人",
    "解忧杂货店",
    "小王子",
    "活着",
    "白夜行",
    "围城",
    "三体",
    "百年孤独",
    "平凡的世界",
    "人类简史",
    "月亮与六便士",
    "霍乱时期的爱情",
    "局外人",
    "红楼梦",
    "挪威的森林",
    "嫌疑人X的献身",
    "明朝那些事儿",
    "沉默的大多数",
    "黄金时代",
    "撒哈拉的故事",
    "房思琪的初恋乐园",
    "岛上书店",
    "偷影子的人",
    "看见",
    "万历十五年",
    "乡土中国",
    "天才在左 疯子在右",
    "失控",
    "原则",
    "思考，快与慢",
    "哈利·波特与魔法石",
    "1984",
    "动物农场",
    "杀死一只知更鸟",
    "了不起的盖茨比",
    "melancholy & 夏天",
    "文化苦旅",
    "边城",
    "呼兰河传",
    "倾城之恋",
    "许三观卖血记",
    "穆斯林的葬礼",
    "尘埃落定",
    "长安乱",
};
static const char *const k_subtitles[] = {
    "一部关于成长的小说",
    "从动物到上帝",
    "修订版",
    "插图珍藏本",
    "纪念版",
    "一个人的战争",
    "我们这个时代的孤独",
    "献给所有迷茫的人",
    "典藏版",
    "经典译本",
};
static const char *const k_words_a[] = {
    "时间",
    "城市",
    "风",
    "月光",
    "沉默",
    "孤独",
    "记忆",
    "海边",
    "远方",
    "少年",
    "故乡",
    "星空",
    "深夜",
    "雨季",
    "秘密",
    "镜子",
    "草原",
    "灯塔",
    "火车",
    "山谷",
};
static const char *const k_words_b[] = {
    "之歌",
    "旅人",
    "简史",
    "密码",
    "往事",
    "迷宫",
    "信使",
    "花园",
    "河流",
    "守望者",
    "传说",
    "笔记",
    "漫游",
    "咖啡馆",
    "图书馆",
    "告白",
    "边界",
    "彼岸",
    "黎明",
    "远征",
};
static const char *const k_en_titles[] = {
    "Wonder",
    "The Kite Runner",
    "Sapiens",
    "Thinking, Fast and Slow",
    "The Great Gatsby",
    "Clean Code",
    "The Pragmatic Programmer",
    "Structure and Interpretation of Computer Programs",
    "Pride and Prejudice",
    "A Brief History of Time",
    "The \"Old\" Man and the Sea",
};
static const char *const k_surnames[] = {
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "赵",
    "黄",
    "周",
    "吴",
    "徐",
    "孙",
    "胡",
    "朱",
    "高",
    "林",
    "何",
    "郭",
    "马",
    "罗",
    "梁",
    "宋",
    "郑",
    "谢",
    "韩",
    "唐",
    "冯",
    "于",
    "董",
    "萧",
    "欧阳",
    "司马",
};
static const char *const k_given[] = {
    "小波",
    "华",
    "晓明",
    "海燕",
    "建国",
    "子墨",
    "一鸣",
    "思远",
    "雨桐",
    "明",
    "静",
    "伟",
    "芳",
    "志强",
    "秀英",
    "嘉怡",
    "天佑",
    "慧",
    "磊",
    "若曦",
    "振宇",
    "婉清",
    "之恒",
    "三毛",
};
static const char *const k_foreign[] = {
    "卡勒德·胡赛尼",
    "东野圭吾",
    "村上春树",
    "乔治·奥威尔",
    "加西亚·马尔克斯",
    "阿加莎·克里斯蒂",
    "斯蒂芬·金",
    "J.K.罗琳",
    "尤瓦尔·赫拉利",
    "毛姆",
    "安托万·德·圣-埃克苏佩里",
    "加布瑞埃拉·泽文",
    "马克·李维",
    "阿尔贝·加缪",
    "哈珀·李",
    "菲茨杰拉德",
    "丹尼尔·卡尼曼",
    "凯文·凯利",
};
static const char *const k_nations[] = {
    "[美]",
    "[英]",
    "[日]",
    "[法]",
    "[哥伦比亚]",
    "[以色列]",
    "〔美〕",
    "(日)",
    "[加拿大]",
};
static const char *const k_en_names[] = {
    "R. J.   Palacio",
    "J. R. R.  Tolkien",
    "Stephen   King",
    "Jane Austen",
    "Robert C.  Martin",
    "Harold Abelson",
    "Gerald Jay   Sussman",
    "Andrew   Hunt",
    "Daniel  Kahneman",
};
static const char *const k_publishers[] = {
    "人民文学出版社",
    "上海译文出版社",
    "南海出版公司",
    "中信出版社",
    "译林出版社",
    "北京十月文艺出版社",
    "重庆出版社",
    "作家出版社",
    "生活·读书·新知三联书店",
    "广西师范大学出版社",
    "浙江文艺出版社",
    "机械工业出版社",
    "电子工业出版社",
    "Penguin Books",
    "O'Reilly Media",
    "Addison-Wesley Professional",
};
static const char *const k_tags[] = {
    "小说",
    "文学",
    "外国文学",
    "日本文学",
    "经典",
    "历史",
    "哲学",
    "心理学",
    "科幻",
    "推理",
    "悬疑",
    "成长",
    "爱情",
    "社会学",
    "经济学",
    "管理",
    "互联网",
    "编程",
    "科普",
    "传记",
    "散文",
    "诗歌",
    "漫画",
    "中国",
    "美国",
    "英国",
    "日本",
    "人性",
    "治愈",
    "东野圭吾",
    "村上春树",
    "计算机",
    "C/C++",
    "名著",
    "青春",
    "女性",
};
static const char *const k_sentences[] = {
    "这是一部关于友谊、背叛与救赎的小说，讲述了一个阿富汗少年的成长故事。",
    "作者以细腻的笔触描绘了一座城市在时代洪流中的沉浮。",
    "他说：\"你要相信，所有的等待都是有意义的。\"",
    "本书荣获多项国际大奖，被翻译成四十多种语言，全球销量超过一千万册。",
    "故事从一个雨夜开始，一封没有署名的信改变了所有人的命运。",
    "这里有勇气 &amp; 温柔，也有失去之后才懂得的珍惜。",
    "书中收录了作者 1990&mdash;2010 年间的全部随笔。",
    "“人生就像一列开往坟墓的列车，路途上会有很多站，很难有人可以自始至终陪着走完。”",
    "&lt;编辑推荐&gt; 一本让你重新认识自己的书。",
    "它温暖了无数读者，也让人在合上书页之后久久不能平静。",
    "小说以三代人的命运为线索，展开了一幅波澜壮阔的历史画卷。",
    "我们每个人都在寻找属于自己的那片月光。",
    "作者用冷静克制的语言，写出了人性中最幽微的部分。",
    "&quot;读完这本书，我终于明白了什么是真正的自由。&quot;——某读者",
    "全书共分为三部，结构精巧，环环相扣，结局出人意料。",
    "这不仅是一个爱情故事，更是一部关于时间与记忆的寓言。",
    "It&#39;s one of the best books I have ever read.",
    "他在书中提出了一个大胆的问题：如果人类可以重新选择，会走向何方？",
    "献给所有在黑夜里独自赶路的人。",
    "本版由译者全面修订，并新增导读与注释。",
    "Price:&nbsp;见封底。",
    "一段跨越半个世纪的旅程，一群在命运面前不肯低头的人。",
};
static const char *const k_comments[] = {
    "很好看，一口气读完了。",
    "翻译有点生硬，但故事本身很动人。",
    "第二遍读，依然被打动。",
    "结局太仓促了。",
    "推荐给所有喜欢推理的朋友！",
    "五星，没有之一。",
    "前半部分有点慢热，后面越来越精彩。",
    "纸张质量一般，内容满分。",
    "Great book, highly recommended.",
    "读到最后哭了……",
    "适合在旅途中读。",
    "作者的文字有一种奇特的魔力。",
    "\"经典\"二字当之无愧。",
};
static const char *const k_cn_num[] = {
    "一",
    "二",
    "三",
    "四",
    "五",
    "六",
    "七",
    "八",
    "九",
    "十",
    "十一",
    "十二",
    "十三",
    "十四",
    "十五",
    "十六",
};

/* ---- a bounded string builder for the head fields ---- */

typedef struct sb {
    char *p;
    size_t cap, len;
} sb;

static void sb_init(sb *s, char *p, size_t cap) {
    s->p = p;
    s->cap = cap;
    s->len = 0;
    p[0] = '\0';
}

static void sb_add(sb *s, const char *x) {
    size_t n = strlen(x);
    if (n > s->cap - 1 - s->len)
        n = s->cap - 1 - s->len;
    memcpy(s->p + s->len, x, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void sb_spaces(sb *s, int n) {
    while (n-- > 0)
        sb_add(s, " ");
}

static void sb_num(sb *s, unsigned long v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lu", v);
    if (n > 0)
        sb_add(s, tmp);
}

/* ---- the fields a list item and a detail page share ---- */

#define MAX_AUTHORS 3
typedef struct book_head {
    uint32_t id;
    char name[256];
    int nauthors;
    int foreign; /* some author is foreign: the book may have translators */
    char authors[MAX_AUTHORS][160];
    char cover[128];
    int score10; /* score * 10, or -1 for null */
} book_head;

/* A person's name wrapped in the site's messy whitespace. */
static void messy_name(sim_rng *r, sb *s, const char *nation, const char *name) {
    int style = (int)sim_rng_below(r, 10);
    if (style < 8) {
        static const int pads[] = { 12, 12, 12, 12, 16, 8, 13 };
        sb_add(s, "\n");
        sb_spaces(s, PICK(r, pads));
    } else if (style == 8) {
        sb_spaces(s, 2);
    }
    if (nation) {
        sb_add(s, nation);
        sb_spaces(s, (int)sim_rng_range(r, 1, 3));
    }
    sb_add(s, name);
    if (style < 8) {
        static const int pads[] = { 12, 12, 12, 8, 4 };
        sb_add(s, "\n");
        sb_spaces(s, PICK(r, pads));
    } else if (style == 8) {
        sb_add(s, " \n ");
    }
}

static void chinese_name(sim_rng *r, char *out, size_t cap) {
    sb s;
    sb_init(&s, out, cap);
    sb_add(&s, PICK(r, k_surnames));
    sb_add(&s, PICK(r, k_given));
}

static void make_head(const sim_catalog *c, long i, book_head *h) {
    sim_rng r;
    sim_rng_seed(&r, sim_hash2(c->seed ^ 0x68656164ULL, (uint64_t)i));
    h->id = sim_catalog_id(c, i);

    sb s;
    sb_init(&s, h->name, sizeof h->name);
    switch (sim_rng_below(&r, 8)) {
    case 0:
    case 1:
    case 2:
        sb_add(&s, PICK(&r, k_titles));
        break;
    case 3:
        sb_add(&s, PICK(&r, k_titles));
        sb_add(&s, "：");
        sb_add(&s, PICK(&r, k_subtitles));
        break;
    case 4:
        sb_add(&s, PICK(&r, k_words_a));
        sb_add(&s, "的");
        sb_add(&s, PICK(&r, k_words_b));
        break;
    case 5:
        sb_add(&s, PICK(&r, k_words_a));
        sb_add(&s, PICK(&r, k_words_b));
        break;
    case 6:
        sb_add(&s, PICK(&r, k_en_titles));
        break;
    default:
        sb_add(&s, PICK(&r, k_titles));
        sb_add(&s, "（第");
        sb_num(&s, (unsigned long)sim_rng_range(&r, 2, 9));
        sb_add(&s, "版）");
        break;
    }

    uint32_t u = sim_rng_below(&r, 100);
    h->nauthors = u < 2 ? 0 : u < 77 ? 1
                          : u < 95   ? 2
                                     : 3;
    h->foreign = 0;
    for (int k = 0; k < h->nauthors; k++) {
        sb_init(&s, h->authors[k], sizeof h->authors[k]);
        uint32_t style = sim_rng_below(&r, 10);
        if (style < 4) {
            char nm[64];
            chinese_name(&r, nm, sizeof nm);
            messy_name(&r, &s, NULL, nm);
        } else if (style < 8) {
            h->foreign = 1;
            const char *nation = sim_rng_pct(&r, 85) ? PICK(&r, k_nations) : NULL;
            messy_name(&r, &s, nation, PICK(&r, k_foreign));
        } else {
            h->foreign = 1;
            messy_name(&r, &s, NULL, PICK(&r, k_en_names));
        }
    }

    int n = snprintf(h->cover, sizeof h->cover,
                     "https://img%u.doubanio.com/view/subject/l/public/s%u.jpg",
                     1 + sim_rng_below(&r, 9), 1000000 + sim_rng_below(&r, 33000000));
    if (n < 0)
        h->cover[0] = '\0';
    h->score10 = sim_rng_pct(&r, 5) ? -1 : (int)sim_rng_range(&r, 40, 98);
}

static void add_score(sim_buf *b, int score10) {
    if (score10 < 0) {
        sim_buf_adds(b, "null");
        return;
    }
    char tmp[8] = { '"', (char)('0' + score10 / 10), '.', (char)('0' + score10 % 10), '"', 0 };
    sim_buf_adds(b, tmp);
}

static void add_authors(sim_buf *b, const book_head *h) {
    sim_buf_addc(b, '[');
    for (int k = 0; k < h->nauthors; k++) {
        if (k)
            sim_buf_adds(b, ", ");
        sim_buf_add_jstrs(b, h->authors[k]);
    }
    sim_buf_addc(b, ']');
}

static void add_id(sim_buf *b, uint32_t id) {
    sim_buf_addc(b, '"');
    sim_buf_add_u64(b, id);
    sim_buf_addc(b, '"');
}

static void render_item_head(const book_head *h, sim_buf *b) {
    sim_buf_adds(b, "{\"id\": ");
    add_id(b, h->id);
    sim_buf_adds(b, ", \"name\": ");
    sim_buf_add_jstrs(b, h->name);
    sim_buf_adds(b, ", \"authors\": ");
    add_authors(b, h);
    sim_buf_adds(b, ", \"cover\": ");
    sim_buf_add_jstrs(b, h->cover);
    sim_buf_adds(b, ", \"score\": ");
    add_score(b, h->score10);
    sim_buf_addc(b, '}');
}

void sim_catalog_render_item(const sim_catalog *c, long i, sim_buf *b) {
    if (c->cache && cache_get(&c->cache->items[i], b))
        return;
    size_t start = b->len;
    book_head h;
    make_head(c, i, &h);
    render_item_head(&h, b);
    if (c->cache)
        cache_put(c->cache, &c->cache->items[i], b, start);
}

/* ---- detail pages ---- */

static void add_key(sim_buf *b, const char *key) {
    sim_buf_adds(b, ", \"");
    sim_buf_adds(b, key);
    sim_buf_adds(b, "\": ");
}

/* Whether an optional key is left out of this detail object (2% each). */
static int omitted(sim_rng *r) {
    return sim_rng_pct(r, 2);
}

static void add_translators(sim_rng *r, const book_head *h, sim_buf *b) {
    int n = 0;
    if (h->foreign && sim_rng_pct(r, 65))
        n = sim_rng_pct(r, 80) ? 1 : 2;
    sim_buf_addc(b, '[');
    for (int k = 0; k < n; k++) {
        char nm[64], messy[160];
        sb s;
        chinese_name(r, nm, sizeof nm);
        sb_init(&s, messy, sizeof messy);
        messy_name(r, &s, NULL, nm);
        if (k)
            sim_buf_adds(b, ", ");
        sim_buf_add_jstrs(b, messy);
    }
    sim_buf_addc(b, ']');
}

static void add_tags(sim_rng *r, sim_buf *b) {
    int n = (int)sim_rng_range(r, 0, 8);
    uint32_t used[8];
    int have = 0;
    sim_buf_addc(b, '[');
    for (int k = 0; k < n; k++) {
        uint32_t t = sim_rng_below(r, (uint32_t)NELEM(k_tags));
        int dup = 0;
        for (int j = 0; j < have; j++)
            dup |= used[j] == t;
        if (dup)
            continue;
        if (have)
            sim_buf_adds(b, ", ");
        used[have++] = t;
        sim_buf_add_jstrs(b, k_tags[t]);
    }
    sim_buf_addc(b, ']');
}

static void add_isbn(sim_rng *r, sim_buf *b) {
    char d[14];
    d[0] = '9';
    d[1] = '7';
    d[2] = sim_rng_pct(r, 90) ? '8' : '9';
    for (int k = 3; k < 12; k++)
        d[k] = (char)('0' + sim_rng_below(r, 10));
    int sum = 0;
    for (int k = 0; k < 12; k++)
        sum += (d[k] - '0') * (k % 2 ? 3 : 1);
    d[12] = (char)('0' + (10 - sum % 10) % 10);
    d[13] = '\0';
    sim_buf_add_jstrs(b, d);
}

static void add_price(sim_rng *r, sim_buf *b) {
    uint32_t u = sim_rng_below(r, 100);
    if (u < 50)
        sim_buf_addf(b, "\"%ld.%02ld元\"", sim_rng_range(r, 12, 128), sim_rng_pct(r, 60) ? 0L : sim_rng_range(r, 1, 99));
    else if (u < 80)
        sim_buf_addf(b, "\"USD %ld.%02ld\"", sim_rng_range(r, 5, 60), sim_rng_range(r, 0, 99));
    else
        sim_buf_adds(b, "null");
}

static void add_introduction(sim_rng *r, sim_buf *b) {
    sim_buf_addc(b, '"');
    int paras = (int)sim_rng_range(r, 1, 6);
    for (int p = 0; p < paras; p++) {
        if (p)
            sim_buf_add_jescs(b, sim_rng_pct(r, 20) ? "\n\n" : "\n");
        if (sim_rng_pct(r, 30))
            sim_buf_adds(b, "　　");
        int n = (int)sim_rng_range(r, 2, 6);
        for (int k = 0; k < n; k++)
            sim_buf_add_jescs(b, PICK(r, k_sentences));
    }
    sim_buf_addc(b, '"');
}

static void add_catalog(sim_rng *r, sim_buf *b) {
    if (sim_rng_pct(r, 30)) {
        sim_buf_adds(b, "null");
        return;
    }
    sim_buf_addc(b, '"');
    if (sim_rng_pct(r, 50))
        sim_buf_adds(b, "序言\\n");
    int n = (int)sim_rng_range(r, 3, (long)NELEM(k_cn_num));
    for (int k = 0; k < n; k++) {
        sim_buf_adds(b, "第");
        sim_buf_adds(b, k_cn_num[k]);
        sim_buf_adds(b, "章 ");
        sim_buf_add_jescs(b, PICK(r, k_words_a));
        sim_buf_add_jescs(b, PICK(r, k_words_b));
        sim_buf_adds(b, "\\n");
    }
    if (sim_rng_pct(r, 50))
        sim_buf_adds(b, "后记 · · · · · ·\\n");
    sim_buf_addc(b, '"');
}

static void add_comments(sim_rng *r, sim_buf *b) {
    int n = (int)sim_rng_range(r, 0, 10);
    sim_buf_addc(b, '[');
    for (int k = 0; k < n; k++) {
        if (k)
            sim_buf_adds(b, ", ");
        sim_buf_adds(b, "{\"id\": ");
        add_id(b, (uint32_t)(100000000u + sim_rng_below(r, 2000000000u)));
        sim_buf_adds(b, ", \"content\": ");
        sim_buf_add_jstrs(b, PICK(r, k_comments));
        sim_buf_addc(b, '}');
    }
    sim_buf_addc(b, ']');
}

static void render_detail(const sim_catalog *c, long i, sim_buf *b) {
    book_head h;
    make_head(c, i, &h);
    sim_rng r;
    sim_rng_seed(&r, sim_hash2(c->seed ^ 0x64657461696cULL, (uint64_t)i));

    sim_buf_adds(b, "{\"id\": ");
    add_id(b, h.id);
    add_key(b, "name");
    sim_buf_add_jstrs(b, h.name);
    add_key(b, "authors");
    add_authors(b, &h);
    if (!omitted(&r)) {
        add_key(b, "translators");
        add_translators(&r, &h, b);
    }
    if (!omitted(&r)) {
        add_key(b, "publisher");
        if (sim_rng_pct(&r, 4))
            sim_buf_adds(b, "null");
        else
            sim_buf_add_jstrs(b, PICK(&r, k_publishers));
    }
    if (!omitted(&r)) {
        add_key(b, "tags");
        add_tags(&r, b);
    }
    add_key(b, "url");
    sim_buf_addf(b, "\"https://book.douban.com/subject/%u/\"", h.id);
    if (!omitted(&r)) {
        add_key(b, "isbn");
        if (sim_rng_pct(&r, 5))
            sim_buf_adds(b, "null");
        else
            add_isbn(&r, b);
    }
    add_key(b, "cover");
    sim_buf_add_jstrs(b, h.cover);
    if (!omitted(&r)) {
        add_key(b, "page_number");
        if (sim_rng_pct(&r, 8))
            sim_buf_adds(b, "null");
        else
            sim_buf_add_u64(b, (uint64_t)sim_rng_range(&r, 64, 1200));
    }
    add_key(b, "price");
    add_price(&r, b);
    add_key(b, "score");
    add_score(b, h.score10);
    add_key(b, "introduction");
    add_introduction(&r, b);
    if (!omitted(&r)) {
        add_key(b, "catalog");
        add_catalog(&r, b);
    }
    add_key(b, "published_at");
    if (sim_rng_pct(&r, 10))
        sim_buf_adds(b, "null");
    else
        sim_buf_addf(b, "\"%04ld-%02ld-%02ldT00:00:00Z\"", sim_rng_range(&r, 1950, 2020),
                     sim_rng_range(&r, 1, 12), sim_rng_pct(&r, 70) ? 1L : sim_rng_range(&r, 2, 28));
    add_key(b, "updated_at");
    if (sim_rng_pct(&r, 5))
        sim_buf_adds(b, "null");
    else
        sim_buf_addf(b, "\"%04ld-%02ld-%02ldT%02ld:%02ld:%02ldZ\"", sim_rng_range(&r, 2019, 2021),
                     sim_rng_range(&r, 1, 12), sim_rng_range(&r, 1, 28), sim_rng_range(&r, 0, 23),
                     sim_rng_range(&r, 0, 59), sim_rng_range(&r, 0, 59));
    if (!omitted(&r)) {
        add_key(b, "comments");
        add_comments(&r, b);
    }
    sim_buf_addc(b, '}');
}

void sim_catalog_render_detail(const sim_catalog *c, long i, sim_buf *b) {
    if (c->cache && cache_get(&c->cache->details[i], b))
        return;
    size_t start = b->len;
    render_detail(c, i, b);
    if (c->cache)
        cache_put(c->cache, &c->cache->details[i], b, start);
}

void sim_catalog_render_malformed(const sim_catalog *c, long i, sim_buf *b) {
    size_t start = b->len;
    sim_catalog_render_detail(c, i, b);
    if (b->oom)
        return;
    size_t n = b->len - start;
    uint64_t h = sim_hash2(c->seed ^ 0x627261636b6574ULL, sim_catalog_id(c, i));
    if (h % 3 == 0) {
        /* A trailing comma before the closing brace. */
        b->len--;
        sim_buf_adds(b, ", }");
    } else {
        /* Cut between 40% and 80% of the object: never valid JSON. */
        size_t cut = n * (40 + (size_t)((h >> 8) % 41)) / 100;
        if (cut < 1)
            cut = 1;
        b->len = start + cut;
        b->p[b->len] = '\0';
    }
}

void sim_catalog_render_list(const sim_catalog *c, long limit, long offset,
                             const char *base, sim_buf *b) {
    sim_buf_adds(b, "{\"count\": ");
    sim_buf_add_u64(b, (uint64_t)c->nbooks);
    sim_buf_adds(b, ", \"next\": ");
    if (offset < c->nbooks && limit < c->nbooks - offset)
        sim_buf_addf(b, "\"%s?limit=%ld&offset=%ld\"", base, limit, offset + limit);
    else
        sim_buf_adds(b, "null");
    sim_buf_adds(b, ", \"previous\": ");
    if (offset <= 0)
        sim_buf_adds(b, "null");
    else if (offset - limit <= 0)
        sim_buf_addf(b, "\"%s?limit=%ld\"", base, limit);
    else
        sim_buf_addf(b, "\"%s?limit=%ld&offset=%ld\"", base, limit, offset - limit);
    sim_buf_adds(b, ", \"results\": [");
    sim_catalog_render_page(c, offset, limit, sim_catalog_render_item, b);
    sim_buf_adds(b, "]}");
}

void sim_catalog_render_page(const sim_catalog *c, long offset, long n, sim_catalog_render_fn item,
                             sim_buf *b) {
    for (long i = offset; i < c->nbooks && i - offset < n; i++) {
        if (i > offset)
            sim_buf_adds(b, ", ");
        item(c, i, b);
    }
}

static void add_id_list(const sim_catalog *c, sim_buf *b, int want) {
    int first = 1;
    sim_buf_addc(b, '[');
    for (long i = 0; i < c->nbooks; i++) {
        int f = c->flags[i] & (SIM_BOOK_MISSING | SIM_BOOK_MALFORMED);
        if (f != want)
            continue;
        if (!first)
            sim_buf_adds(b, ", ");
        first = 0;
        add_id(b, sim_catalog_id(c, i));
    }
    sim_buf_addc(b, ']');
}

void sim_catalog_render_ids(const sim_catalog *c, sim_buf *b) {
    sim_buf_adds(b, "{\"count\": ");
    sim_buf_add_u64(b, (uint64_t)c->nbooks);
    sim_buf_adds(b, ", \"reachable\": ");
    add_id_list(c, b, 0);
    sim_buf_adds(b, ", \"missing\": ");
    add_id_list(c, b, SIM_BOOK_MISSING);
    sim_buf_adds(b, ", \"malformed\": ");
    add_id_list(c, b, SIM_BOOK_MALFORMED);
    sim_buf_addc(b, '}');
}
