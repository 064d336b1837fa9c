# apps.sh - the start-up apps of bench/startup.sh and bench/fleet.sh,
# sourced by both (after lib.sh): what the apps are made of (NODE_PKGS,
# PY_PKGS, DIST), build_app_trees (the trees of $APPS, node, py and php, in
# $ORIGIN, copied to $FLOOR on tmpfs) and app_cmd APP BASE (the command
# line, in CMD). build_app_trees needs ORIGIN FLOOR CACHE RAW WORK APPS.

NODE_PKGS="eslint webpack @babel/core express"
PY_PKGS="django asgiref sqlparse pytz"
DIST=/usr/lib/python3/dist-packages

node_tree() { # the npm tree, installed once into the cache
    local c=$CACHE/node-app
    if [ "$(cat "$c/.request" 2>/dev/null)" != "$NODE_PKGS" ] || [ ! -f "$c/node_modules/eslint/bin/eslint.js" ]; then
        say "node: npm install $NODE_PKGS (once; cached in $c)"
        rm -rf "$c"
        mkdir -p "$c"
        echo '{"name": "startup-app", "version": "1.0.0", "private": true}' > "$c/package.json"
        # shellcheck disable=SC2086
        (cd "$c" && npm install --no-audit --no-fund --loglevel=error $NODE_PKGS) > "$RAW/npm.log" 2>&1 ||
            { tail -5 "$RAW/npm.log" >&2; die "npm install failed"; }
        echo "$NODE_PKGS" > "$c/.request"
    fi
    mkdir -p "$ORIGIN/node"
    cp -a "$c/package.json" "$c/node_modules" "$ORIGIN/node/"
    printf 'const a = 1\nlet b = 2;\nfunction f(x) {\n  return x * 2\n}\nconsole.log(f(a + b));\n' > "$ORIGIN/node/one.js"
}

py_tree() { # Debian's Django and its dependencies, with the settings module
    local p
    mkdir -p "$ORIGIN/py/benchsite"
    for p in $PY_PKGS; do
        [ -d "$DIST/$p" ] || die "python: $DIST/$p missing (python3-django's dependencies)"
        cp -aL "$DIST/$p" "$ORIGIN/py/"
    done
    : > "$ORIGIN/py/benchsite/__init__.py"
    cat > "$ORIGIN/py/benchsite/settings.py" <<'EOF'
SECRET_KEY = 'startup-bench'
INSTALLED_APPS = [
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django.contrib.staticfiles',
]
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}}
USE_TZ = True
STATIC_URL = '/static/'
EOF
    # every module has its .pyc: no run compiles or writes
    "$PY" -m compileall -q -j 0 "$ORIGIN/py" > "$RAW/compileall.log" 2>&1 ||
        { tail -5 "$RAW/compileall.log" >&2; die "compileall failed"; }
}

php_tree() { # Debian's phpunit and libraries, a small code base, 6 tests
    local d=$ORIGIN/php
    mkdir -p "$d/app/src/Shop" "$d/app/src/Util" "$d/tests"
    cp -aL /usr/share/php "$d/share"
    cp "$(command -v phpunit)" "$d/phpunit"
    cat > "$d/app/bootstrap.php" <<'EOF'
<?php
// A PSR-4 autoloader for the App\ namespace (what composer generates).
spl_autoload_register(function (string $class): void {
    $prefix = 'App\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
EOF
    cat > "$d/app/src/Shop/Money.php" <<'EOF'
<?php
namespace App\Shop;

final class Money
{
    public function __construct(private int $cents, private string $currency = 'EUR') {}
    public function cents(): int { return $this->cents; }
    public function currency(): string { return $this->currency; }
    public function add(Money $o): Money { return new Money($this->cents + $o->cents, $this->currency); }
    public function __toString(): string { return sprintf('%d.%02d %s', intdiv($this->cents, 100), $this->cents % 100, $this->currency); }
}
EOF
    cat > "$d/app/src/Shop/Item.php" <<'EOF'
<?php
namespace App\Shop;

final class Item
{
    public function __construct(public readonly string $sku, public readonly Money $price, public readonly int $qty = 1) {}
    public function total(): Money { return new Money($this->price->cents() * $this->qty, $this->price->currency()); }
}
EOF
    cat > "$d/app/src/Shop/Cart.php" <<'EOF'
<?php
namespace App\Shop;

use App\Util\Slug;

final class Cart
{
    /** @var Item[] */
    private array $items = [];
    public function add(Item $i): void { $this->items[Slug::of($i->sku)] = $i; }
    public function count(): int { return count($this->items); }
    public function total(): Money
    {
        $t = new Money(0);
        foreach ($this->items as $i) { $t = $t->add($i->total()); }
        return $t;
    }
}
EOF
    cat > "$d/app/src/Util/Slug.php" <<'EOF'
<?php
namespace App\Util;

final class Slug
{
    public static function of(string $s): string { return trim(preg_replace('/[^a-z0-9]+/', '-', strtolower($s)), '-'); }
}
EOF
    cat > "$d/tests/CartTest.php" <<'EOF'
<?php
use App\Shop\Cart;
use App\Shop\Item;
use App\Shop\Money;
use App\Util\Slug;
use PHPUnit\Framework\TestCase;

final class CartTest extends TestCase
{
    public function testMoneyFormats(): void { $this->assertSame('12.05 EUR', (string) new Money(1205)); }
    public function testMoneyAdds(): void { $this->assertSame(300, (new Money(100))->add(new Money(200))->cents()); }
    public function testItemTotal(): void { $this->assertSame(900, (new Item('A', new Money(300), 3))->total()->cents()); }
    public function testSlug(): void { $this->assertSame('blue-shirt-xl', Slug::of('Blue Shirt / XL')); }
    public function testCartDeduplicatesBySlug(): void
    {
        $c = new Cart();
        $c->add(new Item('Blue Shirt', new Money(100)));
        $c->add(new Item('blue-shirt', new Money(100)));
        $this->assertSame(1, $c->count());
    }
    /** @dataProvider totals */
    public function testCartTotal(array $prices, int $want): void
    {
        $c = new Cart();
        foreach ($prices as $k => $p) { $c->add(new Item("sku$k", new Money($p))); }
        $this->assertEquals(new Money($want), $c->total());
    }
    public function totals(): array { return [[[100, 250, 5], 355]]; }
}
EOF
}

# build_app_trees: every app of $APPS in $ORIGIN, then all of them copied
# to $FLOOR; sets ESLINT_NOCONF for app_cmd
build_app_trees() {
    local app
    for app in $APPS; do
        case $app in
        node) node_tree ;;
        py) py_tree ;;
        php) php_tree ;;
        *) die "unknown app $app (APPS: node py php)" ;;
        esac
    done
    cp -a "$ORIGIN/." "$FLOOR/"
    say "app trees ($APPS) on $(findmnt -n -o FSTYPE -T "$ORIGIN") in $ORIGIN, floor on tmpfs in $FLOOR ($(elapsed))"
    # eslint without a configuration file: --no-config-lookup (flat config,
    # eslint >= 9), --no-eslintrc before
    ESLINT_NOCONF=--no-config-lookup
    if [[ " $APPS " == *" node "* ]]; then
        (cd "$FLOOR/node" && node node_modules/eslint/bin/eslint.js --help) 2>/dev/null | grep -q -- --no-config-lookup ||
            ESLINT_NOCONF=--no-eslintrc
    fi
}
PY_CODE='import django, sys
django.setup()
from django.apps import apps
print(" ".join(sorted(a.label for a in apps.get_app_configs())),
      len([m for m in sys.modules if m.split(".")[0] in sys.argv[1].split()]), "modules of the app tree")'

# app_cmd APP BASE: the command line of APP with its tree under BASE (in
# CMD); with CHECK set, the check run's (which lists the files loaded there)
app_cmd() {
    case $1 in
    node) CMD=(node ${CHECK:+"--require=$WORK/check.js"} node_modules/eslint/bin/eslint.js "$ESLINT_NOCONF"
               --rule 'semi: error' one.js) ;;
    py) CMD=(env PYTHONPATH="$2/py" DJANGO_SETTINGS_MODULE=benchsite.settings PYTHONDONTWRITEBYTECODE=1 "$PY")
        if [ -n "${CHECK:-}" ]; then
            CMD+=("$WORK/check.py" "$2/py" "$PY_CODE" "$PY_PKGS benchsite")
        else
            CMD+=(-c "$PY_CODE" "$PY_PKGS benchsite")
        fi ;;
    php) CMD=(php -d include_path=".:$2/php/share" phpunit ${CHECK:+--prepend "$WORK/check.php"}
              --do-not-cache-result --bootstrap app/bootstrap.php tests/CartTest.php) ;;
    esac
}
