"""Name pools: the mix of a US district (accents, CJK, Hangul, apostrophes, hyphens).

A person draws a culture, then a given name, an optional middle name and a family name from
it. Every pool holds distinct entries, so moving to the next entry is always a real change.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import unicodedata
from dataclasses import dataclass

from devkit.generator.hashing import mix


@dataclass(frozen=True, slots=True)
class Culture:
    weight: int
    given: tuple[str, ...]
    family: tuple[str, ...]
    # scripts without middle names or hyphenated family names in practice
    latin: bool = True


def _pool(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


CULTURES: tuple[Culture, ...] = (
    Culture(
        30,
        _pool(
            "James|Olivia|Liam|Emma|Noah|Ava|William|Sophia|Benjamin|Isabella|Lucas|Mia|Henry|"
            "Charlotte|Alexander|Amelia|Ethan|Harper|Mary-Kate|Evelyn|Jack|Abigail|Owen|Ella|Wyatt|"
            "Scarlett|Caleb|Grace|Nathan|Lily"
        ),
        _pool(
            "Smith|Johnson|Williams|Brown|Jones|Miller|Davis|Wilson|Anderson|Taylor|Thomas|Moore|"
            "Martin|Jackson|Thompson|White|Harris|Clark|Lewis|Robinson|Walker|Young|Allen|King|Wright|"
            "Scott|Hill|Green|Adams|Baker"
        ),
    ),
    Culture(
        22,
        _pool(
            "José|María|Sofía|Mateo|Lucía|Santiago|Valentina|Andrés|Ximena|Martín|Camila|Ángel|Iñaki|"
            "Renée|Jesús|Guadalupe|Raúl|Inés|Joaquín|Maribel"
        ),
        _pool(
            "García|Rodríguez|Martínez|Hernández|López|González|Pérez|Sánchez|Ramírez|Torres|Flores|"
            "Núñez|Peña|Ibáñez|de la Cruz|Gutiérrez|Jiménez|Muñoz|Vásquez|Ortiz"
        ),
    ),
    Culture(
        8,
        _pool("D'Andre|Ja'Nya|DeShawn|Imani|Keisha|Malik|Aaliyah|Jamal|Nia|Tre'Von|Zuri|Kwame|Chiamaka|Oluwaseun"),
        _pool("Washington|Jefferson|Okafor|Adeyemi|Mensah|Banks|Coleman|Jenkins|Nwosu|Boateng|Diallo|Freeman"),
    ),
    Culture(
        5,
        _pool("Siobhán|Aoife|Seán|Niamh|Ciarán|Pádraig|Róisín|Eoin|Caoimhe|Dónal"),
        _pool("O'Brien|O'Connor|O'Neill|McCarthy|D'Arcy|Ó Súilleabháin|Fitzgerald|Kelly|MacLeod|O'Sullivan"),
    ),
    Culture(
        5,
        _pool("Jean-Luc|Zoë|Chloé|Élodie|François|Léa|Noémie|Anaïs|Hélène|Jérôme|Marie-Claire|Gaëlle"),
        _pool("Dubois|Lefèvre|Girard|Bézier|D'Amboise|Lemaître|Moreau|Côté|Gagné|Bélanger"),
    ),
    Culture(
        5,
        _pool("Jürgen|Björn|Søren|Åsa|Łukasz|Małgorzata|Jörg|Sigríður|Zoltán|Dvořák|Agnieszka|Øystein"),
        _pool(
            "Müller|Schröder|Weiß|Øberg|Åkesson|Wójcik|Kowalczyk|Þórsdóttir|Nováková|van der Berg|Schmidt-Rüdiger|Kovač"
        ),
    ),
    Culture(
        5,
        _pool("Nguyệt|Thảo|Minh|Phương|Đức|Huy|Linh|Khánh|Tuấn|Hương"),
        _pool("Nguyễn|Trần|Lê|Phạm|Hoàng|Huỳnh|Võ|Đặng|Bùi|Đỗ"),
    ),
    Culture(
        5,
        _pool("伟|芳|娜|秀英|敏|静|丽|强|磊|洋|艳|勇"),
        _pool("王|李|张|刘|陈|杨|黄|赵|吴|周"),
        latin=False,
    ),
    Culture(
        3,
        _pool("陽翔|さくら|結衣|蓮|葵|悠真|陽菜|湊"),
        _pool("佐藤|鈴木|高橋|田中|渡辺|伊藤|山本|中村"),
        latin=False,
    ),
    Culture(
        3,
        _pool("민준|서연|지호|하은|도윤|서준|지우|예준"),
        _pool("김|이|박|최|정|강|조|윤"),
        latin=False,
    ),
    Culture(
        4,
        _pool("Muhammad|Fatima|Omar|Aisha|Yusuf|Layla|Zainab|Khalid|Noor|Hamza"),
        _pool("Al-Sayed|El-Amin|Haddad|Abu-Bakr|Mansour|Khoury|Nasser|Saleh|Farouk|Aziz"),
    ),
    Culture(
        5,
        _pool("Aarav|Priya|Ananya|Rohan|Vihaan|Diya|Ishaan|Saanvi|Arjun|Kavya"),
        _pool("Patel|Sharma|Singh|Gupta|Iyer|Reddy|Nair|Chatterjee|Desai|Menon"),
    ),
)

_CUMULATIVE = list(itertools.accumulate(culture.weight for culture in CULTURES))
_WEIGHT_TOTAL = _CUMULATIVE[-1]


@dataclass(frozen=True, slots=True)
class PersonName:
    given: str
    middle: str | None
    family: str


def person_name(key: int, version: int = 0) -> PersonName:
    """The name of the person with hash `key`; each later `version` has another family name
    (a rename), the given and middle names stay."""
    h1 = mix(key)
    h2 = mix(h1)
    culture = CULTURES[bisect.bisect_right(_CUMULATIVE, h1 % _WEIGHT_TOTAL)]
    given = culture.given[(h1 >> 8) % len(culture.given)]
    middle = None
    if culture.latin and (h1 >> 24) % 100 < 40:
        candidate = culture.given[(h1 >> 32) % len(culture.given)]
        middle = candidate if candidate != given else None
    families = culture.family
    first = (h2 + version) % len(families)
    family = families[first]
    if culture.latin and (h2 >> 16) % 100 < 4:
        # hyphenated double family names; the second part stays the same through renames
        second = families[(h2 >> 24) % len(families)]
        if second != family and "-" not in second and "-" not in family:
            family = f"{family}-{second}"
    return PersonName(given=given, middle=middle, family=family)


_FOLD = str.maketrans(
    {
        "ß": "ss",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "þ": "th",
        "Þ": "Th",
        "æ": "ae",
        "Æ": "Ae",
        "œ": "oe",
        "Œ": "Oe",
        "ð": "d",
        "Ð": "D",
    }
)


@functools.lru_cache(maxsize=4096)
def ascii_token(text: str) -> str:
    """`Nguyễn` -> `nguyen`, `O'Brien` -> `obrien`; scripts without a Latin form give ``."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(ch for ch in decomposed.lower() if "a" <= ch <= "z")


SCHOOL_NAMES: tuple[str, ...] = _pool(
    "Lincoln|Washington|Jefferson|Roosevelt|César Chávez|Sojourner Truth|Maple Grove|Riverside|"
    "O'Keeffe|Sacagawea|Martin Luther King Jr.|Dolores Huerta|Oak Hill|Lakeview|Cedar Ridge|"
    "Frederick Douglass|Harriet Tubman|Sunnyvale|Willow Creek|Ellen Ochoa|Pine Valley|Hillcrest|"
    "Eastside|Westwood|Northgate|Southport|Fairview|Greenfield|Meadowbrook|Stonebridge|Yuri Kochiyama|"
    "Daniel Inouye|Sequoyah|Amelia Earhart|Rosa Parks|Thurgood Marshall|Sonia Sotomayor|Kalākaua|"
    "Ruth Asawa|Mae Jemison"
)
