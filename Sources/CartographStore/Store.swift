import CartographCore
import GRDB
